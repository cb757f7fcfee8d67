package restricted_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/restricted"
)

// newSandbox builds a Sandbox with only the restricted backend.
func newSandbox(t testing.TB, opts restricted.Options) *sandrun.Sandbox {
	t.Helper()
	b, err := restricted.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	sb, err := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{b}})
	if err != nil {
		t.Fatal(err)
	}
	return sb
}

func run(t testing.TB, sb *sandrun.Sandbox, code string, lim sandrun.Limits) *sandrun.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := sb.Run(ctx, &sandrun.Request{Language: "starlark", Code: code, Limits: lim})
	if err != nil && res.Status != sandrun.StatusInternalError {
		t.Logf("run error: %v", err)
	}
	return res
}

func wantStatus(t testing.TB, res *sandrun.Result, want ...sandrun.Status) {
	t.Helper()
	for _, w := range want {
		if res.Status == w {
			return
		}
	}
	t.Fatalf("status %s (%s), want %v\nstdout: %.500s\nstderr: %.500s", res.Status, res.Error, want, res.Stdout, res.Stderr)
}

// peakRSS returns this process's peak RSS in bytes since the last
// resetPeakRSS.
func peakRSS(t testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			var kb int64
			f := strings.Fields(l)
			for _, c := range f[1] {
				kb = kb*10 + int64(c-'0')
			}
			return kb << 10
		}
	}
	t.Skip("no VmHWM")
	return 0
}

func resetPeakRSS(t testing.TB) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak RSS mark: %v", err)
	}
}
