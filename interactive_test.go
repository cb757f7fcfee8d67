package sandrun_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
)

type interactiveBackend struct {
	fakeBackend
	why error
}

func (b *interactiveBackend) RunsInteractive() error { return b.why }

// TestInteractiveNeedsABackendThatTakesIt: an interactive run is refused,
// never run, on a tier that would ignore its input (fail closed), and on
// a tier that says it cannot here; a session step cannot be interactive.
func TestInteractiveNeedsABackendThatTakesIt(t *testing.T) {
	plain := &fakeBackend{name: "docker"}
	unable := &interactiveBackend{fakeBackend: fakeBackend{name: "gvisor"}, why: errors.New("no pipe")}
	able := &interactiveBackend{fakeBackend: fakeBackend{name: "jail"}}
	sb, err := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{plain, unable, able}})
	if err != nil {
		t.Fatal(err)
	}
	in := strings.NewReader("x")
	for _, c := range []struct {
		backend, want string
	}{
		{"docker", "cannot run a program interactively"},
		{"gvisor", "cannot run a program interactively here: no pipe"},
	} {
		res, err := sb.Run(context.Background(), &sandrun.Request{Language: "python", Code: "print(1)", Backend: c.backend, Input: in})
		if !errors.Is(err, sandrun.ErrBadRequest) || !strings.Contains(err.Error(), c.want) || res.Status != sandrun.StatusRejected {
			t.Errorf("%s: err %v status %s", c.backend, err, res.Status)
		}
	}
	if plain.calls != 0 || unable.calls != 0 {
		t.Fatalf("an interactive run reached a tier that cannot take it: %d %d", plain.calls, unable.calls)
	}
	if res, err := sb.Run(context.Background(), &sandrun.Request{Language: "python", Code: "print(1)", Backend: "jail", Input: in}); err != nil || able.calls != 1 {
		t.Fatalf("jail: %v %+v", err, res)
	}
	sess := &fakeSession{limits: sandrun.DefaultLimits()}
	if _, err := sb.Step(context.Background(), sess, &sandrun.Request{Code: "print(1)", Input: in}); !errors.Is(err, sandrun.ErrBadRequest) || sess.steps != 0 {
		t.Fatalf("interactive step: %v (steps %d)", err, sess.steps)
	}
}
