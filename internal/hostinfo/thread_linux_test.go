//go:build linux

package hostinfo

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMain runs mainThreadElsewhere on the main thread, before any test:
// the attack needs the process's main thread, and only the main goroutine
// locked to it before anything else runs is sure to be on it.
func TestMain(m *testing.M) {
	mainThreadResult = mainThreadElsewhere()
	os.Exit(m.Run())
}

var mainThreadResult = "not run"

// mainThreadElsewhere moves the main thread alone into a v1 memory group
// limited to 64MiB, as the jail's forking thread is for a moment, and
// reads the host from another thread: what it reads must not be that
// group's limit. "" when it held; "skip: ..." where it cannot run.
func mainThreadElsewhere() string {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if unix.Gettid() != unix.Getpid() {
		return "skip: the main goroutine is not on the main thread"
	}
	if os.Geteuid() != 0 {
		return "skip: needs root"
	}
	home, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return "skip: " + err.Error()
	}
	var homeDir string
	for _, l := range strings.Split(string(home), "\n") {
		if p := strings.SplitN(l, ":", 3); len(p) == 3 && strings.Contains(","+p[1]+",", ",memory,") {
			homeDir = filepath.Join("/sys/fs/cgroup/memory", p[2])
		}
	}
	if homeDir == "" {
		return "skip: no cgroup v1 memory hierarchy"
	}
	dir := filepath.Join("/sys/fs/cgroup/memory", fmt.Sprintf("sandrun-hostinfo-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "skip: " + err.Error()
	}
	defer os.Remove(dir)
	const limit = 64 << 20
	if err := os.WriteFile(filepath.Join(dir, "memory.limit_in_bytes"), []byte(strconv.Itoa(limit)), 0); err != nil {
		return "skip: " + err.Error()
	}
	if err := os.WriteFile(filepath.Join(dir, "tasks"), []byte("0"), 0); err != nil {
		return "skip: " + err.Error()
	}
	got := make(chan int64)
	go func() { got <- Read("").Memory }() // another thread: this one is locked
	mem := <-got
	if err := os.WriteFile(filepath.Join(homeDir, "tasks"), []byte("0"), 0); err != nil {
		return "moving back: " + err.Error()
	}
	if mem == limit {
		return fmt.Sprintf("Read took the main thread's group's %d bytes for the host's memory", mem)
	}
	return ""
}

func TestMainThreadInAnotherGroup(t *testing.T) {
	switch r := mainThreadResult; {
	case r == "":
	case strings.HasPrefix(r, "skip: "):
		t.Skip(strings.TrimPrefix(r, "skip: "))
	default:
		t.Fatal(r)
	}
}
