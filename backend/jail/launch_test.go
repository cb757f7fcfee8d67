//go:build linux

package jail_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
)

// driver evaluates one expression per line; SIGINT interrupts a step.
const driver = `
import sys, time
for line in sys.stdin:
    try:
        print(repr(eval(line)), flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    except Exception as e:
        print("error", type(e).__name__, flush=True)
`

func TestLaunchPython(t *testing.T) {
	b := backend(t)
	j, err := b.Launch(context.Background(), &sandrun.LaunchSpec{
		Language: "python", Args: []string{"-u", "-c", driver},
		Files:  []sandrun.InputFile{{Name: "data.txt", Content: "42"}},
		Limits: sandrun.Limits{WallTime: sandrun.Duration(time.Minute)}.WithDefaults(),
	})
	if err != nil {
		t.Fatal(err)
	}
	out := bufio.NewReader(j.Stdout())
	step := func(expr string) string {
		t.Helper()
		if _, err := fmt.Fprintln(j.Stdin(), expr); err != nil {
			t.Fatal(err)
		}
		line, err := out.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the answer to %q: %v", expr, err)
		}
		return strings.TrimSpace(line)
	}
	if got := step("1+1"); got != "2" {
		t.Fatalf("1+1 = %q", got)
	}
	if got := step("open('/work/data.txt').read()"); got != "'42'" {
		t.Fatalf("reading a launch file: %q", got)
	}
	// State survives between steps.
	step("globals().__setitem__('x', 7)")
	if got := step("x * 6"); got != "42" {
		t.Fatalf("state: %q", got)
	}
	// The work dir is visible from the host while the process runs.
	if b, err := os.ReadFile(filepath.Join(j.WorkDir(), "data.txt")); err != nil || string(b) != "42" {
		t.Fatalf("WorkDir: %q %v", b, err)
	}
	// SIGINT interrupts a long step and the process carries on.
	fmt.Fprintln(j.Stdin(), "time.sleep(30)")
	time.Sleep(300 * time.Millisecond)
	if err := j.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if line, _ := out.ReadString('\n'); strings.TrimSpace(line) != "interrupted" {
		t.Fatalf("after SIGINT: %q", line)
	}
	// Tighter limits for the next step: a short wall time.
	if err := j.SetLimits(sandrun.Limits{WallTime: sandrun.Duration(time.Second), Memory: 128 << 20}.WithDefaults()); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(j.Stdin(), "time.sleep(30)")
	ex, err := j.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if ex.Status != sandrun.StatusTimeout {
		t.Fatalf("exit after the wall limit: %+v", ex)
	}
}

func TestLaunchKill(t *testing.T) {
	b := backend(t)
	j, err := b.Launch(context.Background(), &sandrun.LaunchSpec{Language: "python", Args: []string{"-c", "import time; time.sleep(60)"}, Limits: sandrun.DefaultLimits()})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	j.Kill()
	ex, err := j.Wait()
	if err != nil || ex.Status != sandrun.StatusTimeout || time.Since(t0) > 5*time.Second {
		t.Fatalf("kill: %+v %v after %v", ex, err, time.Since(t0))
	}
}
