//go:build linux

package process_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/cgroup"
)

// Issue 11 item 4 for this tier: concurrent runs shared one process's CPU
// weight (the tier's parent group weighed one process, or the runs sat in
// the supervisor's own CPU group) and starved under load, as the jail's
// did. Each run must sit in a CPU group of its own under the tier's
// parent, and the parent must weigh at least one plain process per run
// while they run. (What that buys under load is a benchmark, `sandrun
// bench -only cpu-fair`, not a test.)
func TestRunsWeighOneProcessEach(t *testing.T) {
	needRoot(t)
	mode := cgroup.Mode()
	base, file, unit := "/sys/fs/cgroup/cpu/sandrun-process", "cpu.shares", 1024
	switch mode {
	case "v2":
		base, file, unit = "/sys/fs/cgroup/sandrun-process", "cpu.weight", 100
	case "":
		t.Skip("no cgroup hierarchy")
	}
	sb, _ := newSandbox(t)
	const n = 3
	secs := strconv.Itoa(200000 + os.Getpid()%700000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = sb.Run(ctx, &sandrun.Request{Language: "bash", Backend: "process", Code: "exec sleep " + secs,
				Limits: sandrun.Limits{WallTime: sandrun.Duration(2 * time.Minute)}})
		}()
	}
	defer wg.Wait()
	defer cancel()
	// Wait (generously) until the n programs run on their own (the tier
	// detaches once they are in place), then look at them.
	var pids []int
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if pids = procsWithArgs("sleep", secs); len(pids) == n && !traced(pids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d programs started within a minute", len(pids), n)
		}
	}
	groups := map[string]bool{}
	for _, pid := range pids {
		g := cpuGroup(t, pid, mode)
		if filepath.Dir(g) != "/sandrun-process" {
			t.Errorf("program %d is in CPU group %q: want one of its own under /sandrun-process", pid, g)
		}
		groups[g] = true
	}
	if len(groups) != n {
		t.Errorf("%d programs share %d CPU groups: %v", n, len(groups), groups)
	}
	b, err := os.ReadFile(filepath.Join(base, file))
	w, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || w < n*unit {
		t.Errorf("%s/%s = %d (%v) with %d runs: want at least %d (one plain process each)", base, file, w, err, n, n*unit)
	}
}

// cpuGroup is pid's group in the CPU controller's hierarchy.
func cpuGroup(t *testing.T, pid int, mode string) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if mode == "v2" && parts[0] == "0" {
			return parts[2]
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "cpu" {
				return parts[2]
			}
		}
	}
	t.Fatalf("no CPU group for %d in\n%s", pid, b)
	return ""
}

// traced says whether any of pids still has a tracer (the tier's exec
// stop, before the program is in its cgroup and limits).
func traced(pids []int) bool {
	for _, pid := range pids {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if !strings.Contains(string(b), "\nTracerPid:\t0\n") {
			return true
		}
	}
	return false
}
