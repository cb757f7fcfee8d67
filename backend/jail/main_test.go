//go:build linux

package jail_test

import (
	"context"
	"os"
	"runtime"
	"sync"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/lang"
)

// The main goroutine keeps the main thread (m0), which the runtime never
// destroys: other goroutines, the jail's included, run on threads that
// can die, as they would in a supervisor whose main goroutine is busy.
// Without it a process forked from m0 would survive any thread's death
// by luck (TestInitSurvivesThreadExits, TestZygoteSurvivesThreadExits).
func init() { runtime.LockOSThread() }

// TestMain lets the test binary be the jail init, as os/exec's tests
// re-run themselves as helper commands.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "__child" && os.Args[2] == jail.ChildRole {
		os.Exit(jail.ChildMain(os.Args))
	}
	os.Exit(m.Run())
}

var (
	shared     *jail.Backend
	sharedErr  error
	sharedOnce sync.Once
)

// backend returns one jail backend for the package's tests, skipping
// (or failing under SANDRUN_TEST_STRICT=1) where the host has no jail.
func backend(t testing.TB) *jail.Backend {
	t.Helper()
	sharedOnce.Do(func() {
		shared, sharedErr = jail.New(jail.Options{Languages: lang.NewRegistry(lang.Options{})})
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	if err := shared.Check(context.Background(), "python"); err != nil {
		skip(t, "jail unavailable here: %v", err)
	}
	return shared
}

func skip(t testing.TB, format string, a ...any) {
	t.Helper()
	if os.Getenv("SANDRUN_TEST_STRICT") == "1" {
		t.Fatalf(format, a...)
	}
	t.Skipf(format, a...)
}

func run(t testing.TB, b *jail.Backend, language, code string, mod ...func(*sandrun.Request)) *sandrun.Result {
	t.Helper()
	req := &sandrun.Request{Language: language, Code: code}
	for _, m := range mod {
		m(req)
	}
	req.Limits = req.Limits.WithDefaults()
	res, err := b.Run(context.Background(), req)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

func TestHello(t *testing.T) {
	b := backend(t)
	res := run(t, b, "python", "print(1)")
	if res.Status != sandrun.StatusOK || res.Stdout != "1\n" {
		t.Fatalf("status %s stdout %q stderr %q err %s", res.Status, res.Stdout, res.Stderr, res.Error)
	}
}

func TestLanguages(t *testing.T) {
	b := backend(t)
	for _, c := range []struct{ lang, code string }{
		{"python", "import sys; print(sys.version_info[0])"},
		{"javascript", "console.log(3)"},
		{"bash", "echo 3"},
	} {
		res := run(t, b, c.lang, c.code)
		t.Logf("%s: %s %q %q %+v", c.lang, res.Status, res.Stdout, res.Stderr, res.Usage)
		if res.Status != sandrun.StatusOK {
			t.Errorf("%s: %s %s %q", c.lang, res.Status, res.Error, res.Stderr)
		}
	}
}
