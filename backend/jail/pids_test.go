//go:build linux

package jail_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/testenv"
)

// forkToLimit forks children that sleep until fork fails, prints how many
// it made and the error, then waits for them when wait is set (the run
// then ends on its wall clock) or exits at once.
func forkToLimit(wait bool) string {
	code := "import os, time\nn = 0\nwhile True:\n    try:\n        pid = os.fork()\n    except OSError as e:\n        print(n, e.errno, flush=True)\n        break\n    if pid == 0:\n        time.sleep(60)\n        os._exit(0)\n    n += 1\n"
	if wait {
		code += "os.wait()\n"
	}
	return code
}

// Issue item (jailfix 2): a program that fills its process limit ended
// internal_error, "the jail init ended before reporting the program's
// end: exit status 2" (the init, a Go program then, shared the pids
// cgroup with the program, and the Go runtime dies when it cannot start
// a thread). The init now takes one process of the group, itself, and
// nothing after the program's start: the program gets exactly its
// limit, its own fork failures are its own (EAGAIN), and the run ends
// with the program's status, cold and warm.
func TestProcessLimitIsTheProgramsCold(t *testing.T) {
	b := backend(t)
	testPidsLimit(t, func(code string, mod func(*sandrun.Request)) *sandrun.Result {
		return run(t, b, "python", code, mod)
	})
	// The shell form of the report: sleeps in the background past the
	// limit, then wait; docker and gvisor end it on the wall clock.
	res := run(t, b, "bash", "for i in $(seq 100); do sleep 5 & done; wait", withLimits(func(l *sandrun.Limits) {
		l.Processes = 16
		l.WallTime = sandrun.Duration(3 * time.Second)
	}))
	if res.Status != sandrun.StatusTimeout {
		t.Fatalf("bash: status %s (%s), want timeout; stderr %.300q", res.Status, res.Error, res.Stderr)
	}
}

func TestProcessLimitIsTheProgramsWarm(t *testing.T) {
	b := warmBackend(t)
	testPidsLimit(t, func(code string, mod func(*sandrun.Request)) *sandrun.Result {
		before := b.WarmStats().Forked
		res := run(t, b, "python", code, mod)
		if b.WarmStats().Forked == before {
			t.Fatalf("the run was not served warm: %+v", b.WarmStatus())
		}
		return res
	})
}

func testPidsLimit(t *testing.T, runPy func(code string, mod func(*sandrun.Request)) *sandrun.Result) {
	t.Helper()
	for _, n := range []int{1, 4, 16} {
		// The program (python) and n-1 children: fork fails with EAGAIN
		// (11) at the limit, and the program goes on.
		res := runPy(forkToLimit(false), withLimits(func(l *sandrun.Limits) {
			l.Processes = n
			l.WallTime = sandrun.Duration(testenv.Scale(t, 30*time.Second))
		}))
		if want := strconv.Itoa(n-1) + " 11\n"; res.Status != sandrun.StatusOK || res.Stdout != want {
			t.Fatalf("processes %d: status %s (%s) stdout %q, want ok and %q; stderr %.300q", n, res.Status, res.Error, res.Stdout, want, res.Stderr)
		}
	}
	// At the limit and waiting for its children: its wall clock ends it.
	res := runPy(forkToLimit(true), withLimits(func(l *sandrun.Limits) {
		l.Processes = 8
		l.WallTime = sandrun.Duration(2 * time.Second)
	}))
	if res.Status != sandrun.StatusTimeout || !strings.HasPrefix(res.Stdout, "7 11") {
		t.Fatalf("waiting at the limit: status %s (%s) stdout %q, want timeout after 7 children", res.Status, res.Error, res.Stdout)
	}
}
