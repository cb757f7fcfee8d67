package session_test

import (
	"context"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/session"
	"github.com/sandrun/sandrun/session/sessiontest"
)

// Issue 12 item 4 through sessions: the caps HostPolicy derives divide
// three quarters of the host's memory among the concurrent one-shot runs,
// and each session may take a run's whole cap, for as long as it lives
// (an hour), up to --max-sessions (16) of them. On a 24 GiB host with two
// run slots, three sessions at 9 GiB each were accepted: 27 GiB promised,
// besides the runs' 18 GiB, and any caller can then exhaust the host's
// memory (the cgroups bound each session, not their sum). A session whose
// memory would take the live sessions past what the host has must be
// refused, naming limits.memory.
func TestSessionsMemoryWithinHost(t *testing.T) {
	t.Skip("OPEN: sessions' memory limits are not counted against the host's memory (issue 12 item 4); owner: sessions/pipeline")
	b := sessiontest.Backends()[0]
	pol := sandrun.HostPolicy(2, t.TempDir())
	if pol.Caps.Memory >= sandrun.MaxLimits().Memory {
		t.Skip("the host's memory is unknown here")
	}
	m := newManagerWith(t, b, sandrun.Options{Policy: pol}, func(o *session.Options) { o.MaxSessions = 16 })
	total := sandrun.Bytes(0)
	for i := 0; i < 3; i++ {
		_, err := m.Create(context.Background(), session.Spec{Language: "python", Limits: sandrun.Limits{Memory: pol.Caps.Memory}})
		if err != nil {
			return // refused before the sessions promise more than the host has
		}
		total += pol.Caps.Memory
	}
	t.Fatalf("3 sessions of %s each accepted: %s promised on a host whose runs may have %s (3/4 of its memory)", pol.Caps.Memory, total, 2*pol.Caps.Memory)
}
