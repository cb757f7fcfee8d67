//go:build linux

package cgroup

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// startBorn starts cmd the way a tier does to have it born in g: on a
// locked thread that entered g (v1), with g's fd in the clone (v2); the
// thread moves back out before it returns to the runtime. It returns the
// thread's groups before and after.
func startBorn(t *testing.T, g *Group, cmd *exec.Cmd) (before, after string) {
	fd, err := g.CloneFD()
	if err != nil {
		t.Fatal(err)
	}
	if fd >= 0 {
		defer unix.Close(fd)
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		b, _ := os.ReadFile("/proc/thread-self/cgroup")
		before = string(b)
		leave, err := g.Enter()
		if err != nil {
			errc <- err // ends locked: the runtime discards the thread
			return
		}
		err = cmd.Start()
		if leave != nil {
			if lerr := leave(); lerr != nil {
				errc <- lerr
				return
			}
		}
		b, _ = os.ReadFile("/proc/thread-self/cgroup")
		after = string(b)
		runtime.UnlockOSThread()
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return before, after
}

// TestBornInGroup: a process started on a thread that entered its group
// (v1) or cloned with CLONE_INTO_CGROUP (v2) is born there, and the
// thread is back where it was.
func TestBornInGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make cgroups")
	}
	check := func(t *testing.T, g *Group, want string) {
		if !g.BornInside() {
			t.Fatal("as root the group must take its process at birth")
		}
		cmd := exec.Command("sleep", "30")
		before, after := startBorn(t, g, cmd)
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		got, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", cmd.Process.Pid))
		if !strings.Contains(string(got), want) {
			t.Errorf("child's cgroups:\n%s\nwant a line with %q", got, want)
		}
		if before != after {
			t.Errorf("the forking thread stayed elsewhere:\n%s\nwant\n%s", after, before)
		}
	}
	t.Run("v1", func(t *testing.T) {
		if Mode() != "v1" {
			t.Skip("no v1 hierarchy here")
		}
		dirName := fmt.Sprintf("sandrun-cgtest-b%d", os.Getpid())
		m := testManager(t, dirName)
		g, err := m.Create(Limits{Memory: 64 << 20, Pids: 16, CPUs: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Remove()
		check(t, g, ":memory:/"+dirName+"/"+g.Name())
	})
	t.Run("v2", func(t *testing.T) {
		// A v1 host often mounts an empty v2 hierarchy beside: enough to
		// check CLONE_INTO_CGROUP, which needs no controller.
		dir := filepath.Join(Root, "unified")
		var st unix.Statfs_t
		if Mode() == "v2" {
			dir = Root
		} else if unix.Statfs(dir, &st) != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
			t.Skip("no v2 hierarchy here")
		}
		d := filepath.Join(dir, fmt.Sprintf("sandrun-cgtest-b%d", os.Getpid()))
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		defer removeGroup(d)
		check(t, &Group{v2: true, dirs: map[string]string{"": d}}, "0::/"+filepath.Base(d))
	})
}

// TestJoinFiles: a single-threaded process moves itself into the group by
// writing "0" to a file it was handed (the warm path's children).
func TestJoinFiles(t *testing.T) {
	if os.Geteuid() != 0 || Mode() == "" {
		t.Skip("needs root and a cgroup hierarchy")
	}
	dirName := fmt.Sprintf("sandrun-cgtest-j%d", os.Getpid())
	g, err := testManager(t, dirName).Create(Limits{Memory: 64 << 20, Pids: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Remove()
	fds, err := g.JoinFiles()
	if err != nil {
		t.Fatal(err)
	}
	// The shell writes 0 into each inherited file (fd 3, 4, ...), then
	// waits: it is single-threaded, so moving its thread moves it.
	var files []*os.File
	script := ""
	for i, fd := range fds {
		files = append(files, os.NewFile(uintptr(fd), "join"))
		script += fmt.Sprintf("echo 0 >&%d; ", 3+i)
	}
	cmd := exec.Command("/bin/sh", "-c", script+"exec sleep 30")
	cmd.ExtraFiles = files
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		f.Close()
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	want := dirName + "/" + g.Name()
	for i := 0; i < 500; i++ {
		got, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", cmd.Process.Pid))
		if strings.Count(string(got), want) >= len(fds) {
			return
		}
		if i == 499 {
			t.Fatalf("the process did not join %s:\n%s", want, got)
		}
		runtime.Gosched()
		syscall.Nanosleep(&syscall.Timespec{Nsec: 10e6}, nil)
	}
}
