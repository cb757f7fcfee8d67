// Package sessiontest gives the tests of session, pool and their
// transports the launchers this host has: the jail when it works here,
// and the process tier always. It is for tests only.
package sessiontest

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/backend/process"
	"github.com/sandrun/sandrun/backend/restricted"
	"github.com/sandrun/sandrun/internal/driver"
	"github.com/sandrun/sandrun/internal/nettest"
	"github.com/sandrun/sandrun/lang"
	"github.com/sandrun/sandrun/session"
)

// Main lets the test binary be the jail's init (the jail re-executes
// os.Executable()), then runs the tests. Call it from TestMain.
func Main(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "__child" {
		switch role := os.Args[2]; {
		case role == jail.ChildRole:
			os.Exit(jail.ChildMain(os.Args))
		case restricted.IsRole(role):
			os.Exit(restricted.ChildMain(os.Args[2:]))
		case role == driver.RoleStarlark:
			os.Exit(driver.StarlarkMain(os.Args[3:]))
		}
	}
	code := m.Run()
	if j != nil {
		_ = j.Close()
	}
	os.Exit(code)
}

// The jail backend is shared by a test binary's tests, as the jail's own
// tests do: it holds host-wide state (uid slots, cgroup parent).
var (
	j        *jail.Backend
	jErr     error
	jOnce    sync.Once
	strict   = os.Getenv("SANDRUN_TEST_STRICT") == "1"
	logger   = slog.New(slog.DiscardHandler)
	procName = process.Name
)

func jailBackend() (*jail.Backend, error) {
	jOnce.Do(func() {
		j, jErr = jail.New(jail.Options{Languages: Languages(), Logger: logger})
		if jErr == nil {
			for _, l := range []string{lang.Python, lang.JavaScript} {
				if err := j.Check(context.Background(), l); err != nil {
					jErr = err
					break
				}
			}
		}
	})
	return j, jErr
}

// Languages is a registry with python, javascript, bash and starlark,
// whose interpreter is the test binary itself (Main dispatches its roles).
func Languages() *lang.Registry {
	self, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return lang.NewRegistry(lang.Options{Extra: []lang.Spec{restricted.LanguageSpec(self)}})
}

// Backends lists the backends the tests run against, strongest first:
// the jail when it works on this host, then the process tier. Under
// SANDRUN_TEST_STRICT=1 a jail that does not work fails the calling test
// through Launcher instead of being left out.
func Backends() []string {
	if _, err := jailBackend(); err == nil || strict {
		return []string{jail.Name, process.Name}
	}
	return []string{process.Name}
}

// IsBoundary says whether a backend isolates sessions from each other
// (files by absolute path, processes), not only their namespaces.
func IsBoundary(name string) bool { return name != procName }

// Launcher returns the named backend for t.
func Launcher(t testing.TB, name string) sandrun.Launcher {
	t.Helper()
	switch name {
	case jail.Name:
		b, err := jailBackend()
		if err != nil {
			if strict {
				t.Fatalf("jail unavailable: %v", err)
			}
			t.Skipf("jail unavailable: %v", err)
		}
		return b
	case process.Name:
		b, err := process.New(process.Options{Languages: Languages(), BaseDir: t.TempDir(), Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	t.Fatalf("sessiontest: unknown backend %q", name)
	return nil
}

// NetJail is a jail of its own whose operator permits allow (the
// command-line form) on the test hosts n, closed at the end of the test.
// It skips (fails, strict) where there is no jail, and skips where the
// jail cannot enforce an allowlist (not root: the test hosts skip there
// too).
func NetJail(t testing.TB, n *nettest.Net, allow string) *jail.Backend {
	t.Helper()
	Launcher(t, jail.Name)
	op, err := n.Operator(allow)
	if err != nil {
		t.Fatal(err)
	}
	b, err := jail.New(jail.Options{Languages: Languages(), Logger: logger, Network: op})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := b.EnforcesNetwork(); err != nil {
		t.Skipf("the jail cannot enforce a network allowlist here: %v", err)
	}
	return b
}

// Sandbox is the run pipeline for a test's sessions: the process backend
// (sandrun.New needs one; session steps do not use it) and the given
// options' hooks (Sanitizer, Analyzer, Recorder, Admission, Policy).
func Sandbox(t testing.TB, o sandrun.Options) *sandrun.Sandbox {
	t.Helper()
	if len(o.Backends) == 0 {
		b, err := process.New(process.Options{Languages: Languages(), BaseDir: t.TempDir(), Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		o.Backends = []sandrun.Backend{b}
	}
	sb, err := sandrun.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return sb
}

// WorkDirOf returns the host path of a session's work directory on the
// process tier (where the interpreter's cwd is a host path), "" elsewhere.
func WorkDirOf(t testing.TB, m *session.Manager, id string) string {
	t.Helper()
	in, err := m.Get(id)
	if err != nil || in.Backend != process.Name {
		return ""
	}
	res, err := m.Run(context.Background(), id, session.RunRequest{Code: "import os\nprint(os.getcwd())"})
	if err != nil || res.Status != sandrun.StatusOK {
		t.Fatalf("reading the work dir: %v %+v", err, res)
	}
	return strings.TrimSpace(res.Stdout)
}
