//go:build linux

package jail

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/cgroup"
	"golang.org/x/sys/unix"
)

// TestBornInGroup: an init started through startIn is born in its run's
// group (v1: the forking thread moves itself in and back out; v2: the
// clone names the group), and no thread of this process stays in it.
// internal/cgroup checks both versions on their own; this checks the
// jail's forking thread with the jail's manager on this host's version.
func TestBornInGroup(t *testing.T) {
	if os.Geteuid() != 0 || cgroup.Mode() == "" {
		t.Skip("needs root and a cgroup hierarchy")
	}
	m, err := newCgroupManager("", nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := m.Create(cgLimits(sandrun.DefaultLimits(), 1))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Remove()
	if !g.BornInside() {
		t.Fatal("as root a group must take its init at birth")
	}
	b := &Backend{}
	cmd := exec.Command("sleep", "30")
	fd, err := g.CloneFD()
	if err != nil {
		t.Fatal(err)
	}
	if fd >= 0 {
		defer unix.Close(fd)
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	}
	before, _ := os.ReadFile("/proc/self/cgroup")
	release, err := b.startIn(-1, g, cmd.Start)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait(); release() }()
	got, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", cmd.Process.Pid))
	if want := cgroupDirName + "/" + g.Name() + "\n"; !strings.Contains(string(got), want) {
		t.Errorf("child's cgroups:\n%s\nwant lines ending %q", got, want)
	}
	// Every thread of this process is where the process was (the
	// forking thread too: it moved back out, and waits for release).
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, tk := range tasks {
		cg, _ := os.ReadFile("/proc/self/task/" + tk.Name() + "/cgroup")
		if string(cg) != string(before) {
			t.Errorf("thread %s stayed elsewhere:\n%s\nwant\n%s", tk.Name(), cg, before)
		}
	}
}
