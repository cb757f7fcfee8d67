//go:build linux

package jail_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/internal/testenv"
	"github.com/sandrun/sandrun/lang"
)

// TestSupervisorCrash: a supervisor killed with SIGKILL mid-run takes its
// jail with it (PDEATHSIG, pid namespace), and the next backend's startup
// sweep removes the cgroup it left.
func TestSupervisorCrash(t *testing.T) {
	if os.Getenv("SANDRUN_CRASH_CHILD") == "1" {
		crashChild(t)
		return
	}
	if testing.Short() {
		t.Skip("slow")
	}
	backend(t)
	self, _ := os.Executable()
	cmd := exec.Command(self, "-test.run=^TestSupervisorCrash$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SANDRUN_CRASH_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var initPid int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
			initPid, _ = strconv.Atoi(n)
			break
		}
	}
	if initPid == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("the crashing supervisor never started its jail")
	}
	// The groups are listed while their supervisor lives: once it is
	// dead, any other test binary's backend may sweep them first (the
	// outcome this test wants, but then there is nothing left to list).
	var stale []string
	for _, base := range []string{"/sys/fs/cgroup/memory/sandrun-jail", "/sys/fs/cgroup/sandrun-jail"} {
		m, _ := filepath.Glob(filepath.Join(base, fmt.Sprintf("%d-*", cmd.Process.Pid)))
		stale = append(stale, m...)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if len(stale) == 0 {
		t.Fatal("the crashing supervisor had no cgroup: the test would not test the sweep")
	}
	deadline := time.Now().Add(testenv.Scale(t, 5*time.Second))
	for syscall.Kill(initPid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("jail init %d outlived its supervisor", initPid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, err := jail.New(jail.Options{Languages: lang.NewRegistry(lang.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	for _, d := range stale {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale cgroup %s survived the startup sweep", d)
		}
	}
}

func crashChild(t *testing.T) {
	b, err := jail.New(jail.Options{Languages: lang.NewRegistry(lang.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	j, err := b.Launch(context.Background(), &sandrun.LaunchSpec{Language: "python", Args: []string{"-c", "import time; time.sleep(60)"},
		Limits: sandrun.Limits{WallTime: sandrun.Duration(time.Minute)}.WithDefaults()})
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSuffix(strings.TrimPrefix(j.WorkDir(), "/proc/"), "/root/work")
	fmt.Println("READY " + pid)
	time.Sleep(time.Minute)
}
