// Package testenv is what the test suites share: strict mode (under
// SANDRUN_TEST_STRICT=1, set by scripts/test.sh, a missing dependency
// fails a test instead of skipping it), unique names for host-wide
// resources (several suites and engineers share one host), and time
// bounds scaled to how fast the host is right now, measured, instead of
// fixed seconds that a loaded host overruns.
//
// It is imported by tests only.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Strict reports whether a missing dependency must fail the test.
func Strict() bool { return os.Getenv("SANDRUN_TEST_STRICT") == "1" }

// Skip skips the test for a missing dependency, or fails it in strict
// mode.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	if Strict() {
		t.Fatalf("required under SANDRUN_TEST_STRICT=1: "+format, args...)
	}
	t.Skipf(format, args...)
}

// Name returns prefix-<pid>-<8 random hex digits>: a name for a host-wide
// resource (container, user, socket, cgroup, directory) that no other
// test process, nor a rerun of this one, uses at the same time.
func Name(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", prefix, os.Getpid(), hex.EncodeToString(b[:]))
}

// slowdown caches the last measurement for a few seconds: tests call
// Scale often and the host's load changes slowly.
var slowdown struct {
	sync.Mutex
	at     time.Time
	factor float64
}

// Slowdown measures how much longer CPU-bound work takes in wall time
// than in CPU time right now: 1 on an idle host, about 2 when two busy
// loops share two cores with the test, more under heavier load. It
// needs no reference machine: the work is its own baseline (its CPU
// time, read from the thread's CPU clock).
func Slowdown() float64 {
	slowdown.Lock()
	defer slowdown.Unlock()
	if time.Since(slowdown.at) < 5*time.Second {
		return slowdown.factor
	}
	var f [3]float64
	for i := range f {
		f[i] = measure(10 * time.Millisecond)
	}
	sort.Float64s(f[:])
	slowdown.factor = min(max(f[1], 1), 50)
	slowdown.at = time.Now()
	return slowdown.factor
}

// measure spins until the thread has used cpu of CPU time (or two
// seconds of wall time went by) and returns wall/cpu.
func measure(cpu time.Duration) float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0 := threadCPU()
	w0 := time.Now()
	x := uint64(1)
	for threadCPU()-c0 < cpu && time.Since(w0) < 2*time.Second {
		for i := 0; i < 10000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	if x == 0 { // keeps the loop from being optimised away
		fmt.Fprint(os.Stderr, "")
	}
	used := threadCPU() - c0
	if used <= 0 {
		return 50
	}
	return float64(time.Since(w0)) / float64(used)
}

func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// Scale returns d stretched by the host's current Slowdown, and logs
// the factor when it is above 1.5, so a failure on a loaded host says
// how loaded it was. Use it for every bound on how long something may
// take; never for a limit under test (those are the product's).
func Scale(t testing.TB, d time.Duration) time.Duration {
	t.Helper()
	f := Slowdown()
	if f > 1.5 {
		t.Logf("host slowdown %.1fx (load %s): time bound %v -> %v", f, loadavg(), d, time.Duration(float64(d)*f).Round(time.Millisecond))
	}
	return time.Duration(float64(d) * f)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil || len(b) < 14 {
		return "?"
	}
	return string(b[:14])
}
