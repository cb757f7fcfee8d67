// Package sessiontest gives the tests of session, pool and their
// transports the launchers this host has: the process tier always, the
// jail when it is built in. It is for tests only.
package sessiontest

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/process"
	"github.com/sandrun/sandrun/lang"
	"github.com/sandrun/sandrun/session"
)

// Backends lists the backends whose launchers the tests run against,
// strongest first.
func Backends() []string { return []string{process.Name} }

// IsBoundary says whether a backend isolates sessions from each other
// (files by absolute path, processes), not only their namespaces.
func IsBoundary(name string) bool { return name != process.Name }

// Launcher builds the named backend for t, with its work directories
// under t.TempDir().
func Launcher(t testing.TB, name string) sandrun.Launcher {
	t.Helper()
	switch name {
	case process.Name:
		b, err := process.New(process.Options{
			Languages: lang.NewRegistry(lang.Options{}),
			BaseDir:   t.TempDir(),
			Logger:    slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	t.Fatalf("sessiontest: unknown backend %q", name)
	return nil
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
