//go:build linux

package rpython

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/restricted"
	"github.com/sandrun/sandrun/session"
	"go.starlark.net/starlark"
)

// TestSession: a restricted python session keeps its globals from step
// to step, under the policy in every step, with the host API; a step past
// its time is interrupted and the session lives on.
func TestSession(t *testing.T) {
	s := sharedStack(t)
	calls := 0
	counter := starlark.NewBuiltin("counter", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		calls++
		return starlark.MakeInt(calls), nil
	})
	env := restricted.MathEnv()
	env["counter"] = counter
	rest, err := restricted.New(restricted.Options{Predeclared: env, Python: s.jail, Warm: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer rest.Close()
	sb, err := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{rest}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := session.New(session.Options{Launchers: map[string]sandrun.Launcher{restricted.Name: rest}, Sandbox: sb})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	info, err := m.Create(ctx, session.Spec{Language: "python", Backend: restricted.Name})
	if err != nil {
		t.Fatal(err)
	}
	step := func(code string, mod ...func(*session.RunRequest)) *sandrun.Result {
		t.Helper()
		rr := session.RunRequest{Code: code}
		for _, f := range mod {
			f(&rr)
		}
		res, err := m.Run(ctx, info.ID, rr)
		if res == nil {
			t.Fatal(err)
		}
		return res
	}
	for _, c := range []struct {
		code, stdout string
		status       sandrun.Status
		errHas       string
	}{
		{"import math\nclass P:\n    def __init__(self, v):\n        self.v = v\nxs = [P(i) for i in range(4)]\nn = counter()", "", sandrun.StatusOK, ""},
		{"print(sum(p.v for p in xs), n, counter(), round(math.sqrt(2), 3), sqrt(9))", "6 1 2 1.414 3.0\n", sandrun.StatusOK, ""},
		{"import os", "", sandrun.StatusExitError, "ImportError"},
		{"y = xs[0].__class__", "", sandrun.StatusCompileError, ""},
		{"xs.append(P(10))\nprint(len(xs))", "5\n", sandrun.StatusOK, ""},
	} {
		res := step(c.code)
		if res.Status != c.status || res.Stdout != c.stdout || !strings.Contains(res.Error+res.Stderr, c.errHas) {
			t.Errorf("%q: %s %q %q %q", c.code, res.Status, res.Stdout, res.Error, res.Stderr)
		}
	}
	res := step("while True:\n    pass", func(r *session.RunRequest) { r.Limits.WallTime = sandrun.Duration(time.Second) })
	if res.Status != sandrun.StatusTimeout {
		t.Errorf("long step: %s %s", res.Status, res.Error)
	}
	res = step("print(len(xs))")
	if res.Status != sandrun.StatusOK || res.Stdout != "5\n" {
		t.Errorf("after the interrupt: %s %q %s", res.Status, res.Stdout, res.Error)
	}
	res = step("1 + 1", func(r *session.RunRequest) { r.Interactive = true })
	if res.Stdout != "2\n" {
		t.Errorf("interactive: %q", res.Stdout)
	}
	if in, _ := m.Get(info.ID); in.State != session.StateIdle {
		t.Errorf("state %s", in.State)
	}
}
