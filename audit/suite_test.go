package audit_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/audit"
)

// entry builds a test entry; i makes ids and times distinct and ordered.
func entry(i int, base time.Time) *audit.Entry {
	langs := []string{"python", "javascript", "bash"}
	statuses := []sandrun.Status{sandrun.StatusOK, sandrun.StatusExitError, sandrun.StatusTimeout}
	return &audit.Entry{
		ID:         fmt.Sprintf("%032x", 0xabc000+i),
		StartedAt:  base.Add(time.Duration(i) * time.Minute),
		CodeSHA256: fmt.Sprintf("%064x", i),
		CodeSize:   10 + i,
		Language:   langs[i%3],
		Backend:    []string{"process", "jail"}[i%2],
		Limits:     sandrun.DefaultLimits(),
		Status:     statuses[i%3],
		ExitCode:   i % 3,
		Usage:      sandrun.Usage{WallMs: int64(i), CPUMs: 2, MemoryPeakBytes: 1 << 20},
		Sanitized:  true,
		Detections: []sandrun.Detection{{Rule: "openai-api-key", Stream: "stdout", Count: i}},
		Caller:     []string{"alice", "bob"}[i%2],
		Host:       "node1",
		Version:    "test",
	}
}

// storeSuite runs the behaviour every Store must have against a fresh,
// empty store from open.
func storeSuite(t *testing.T, open func(t *testing.T) audit.Store) {
	ctx := context.Background()
	base := time.Date(2026, 11, 1, 12, 0, 0, 123456000, time.UTC)

	t.Run("RoundTrip", func(t *testing.T) {
		st := open(t)
		e := entry(1, base)
		e.Code = "print('hi')"
		e.Signal, e.Error = "SIGKILL", "the program was killed by SIGKILL"
		e.Downgrades = []string{"seccomp"}
		e.Session = "5e55"
		e.Limits.Memory = 128 << 20
		if err := st.Insert(ctx, e); err != nil {
			t.Fatal(err)
		}
		got, err := st.Get(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", *e) {
			t.Fatalf("round trip changed the entry:\n got %+v\nwant %+v", *got, *e)
		}
		if err := st.Insert(ctx, e); err == nil {
			t.Fatal("inserting the same id twice succeeded")
		}
		if _, err := st.Get(ctx, "ffff"); !errors.Is(err, audit.ErrNotFound) {
			t.Fatalf("Get(unknown) = %v, want ErrNotFound", err)
		}
	})

	t.Run("NetworkUsage", func(t *testing.T) {
		st := open(t)
		e := entry(2, base)
		e.Session = "5e55"
		e.Usage.Network = &sandrun.NetworkUsage{BytesUp: 12, BytesDown: 3456, Connections: 2, Refused: 1, LimitHit: "bytes_down",
			Destinations: []sandrun.NetworkDestination{
				{Host: "hosta.test", Port: 443, Allowed: true, Address: "10.206.7.2", Attempts: 2, BytesUp: 12, BytesDown: 3456},
				{Host: "evil.test", Port: 80, Reason: "evil.test port 80 is not in the allowlist", Attempts: 1},
			}}
		if err := st.Insert(ctx, e); err != nil {
			t.Fatal(err)
		}
		plain := entry(3, base)
		if err := st.Insert(ctx, plain); err != nil {
			t.Fatal(err)
		}
		got, err := st.Get(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Usage, e.Usage) {
			t.Fatalf("network usage changed in the store:\n got %+v\nwant %+v", got.Usage.Network, e.Usage.Network)
		}
		if got, err := st.Get(ctx, plain.ID); err != nil || got.Usage.Network != nil {
			t.Fatalf("a run without network: %+v, %v", got, err)
		}
		// Update (a record begun as running) keeps it too.
		e.Usage.Network.Refused = 5
		if err := st.Update(ctx, e); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Get(ctx, e.ID); err != nil || got.Usage.Network == nil || got.Usage.Network.Refused != 5 {
			t.Fatalf("after update: %+v, %v", got, err)
		}
	})

	t.Run("UpdateAndInterrupted", func(t *testing.T) {
		st := open(t)
		live, dead, other := entry(1, base), entry(2, base), entry(3, base)
		for i, e := range []*audit.Entry{live, dead, other} {
			e.Status, e.ExitCode, e.Writer = audit.StatusRunning, -1, fmt.Sprintf("w%d", i)
			if e == other {
				e.Host = "node2" // another node's records are its own business
			}
			if err := st.Insert(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		n, err := st.MarkInterrupted(ctx, "node1", func(w string) bool { return w == "w0" })
		if err != nil || n != 1 {
			t.Fatalf("marked %d, %v; want 1", n, err)
		}
		for e, want := range map[*audit.Entry]sandrun.Status{live: audit.StatusRunning, dead: audit.StatusInterrupted, other: audit.StatusRunning} {
			if got, err := st.Get(ctx, e.ID); err != nil || got.Status != want {
				t.Errorf("%s: %+v, %v; want %s", e.ID, got, err, want)
			}
		}
		done := *live
		done.Status, done.ExitCode, done.Usage.WallMs = sandrun.StatusOK, 0, 77
		if err := st.Update(ctx, &done); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Get(ctx, live.ID); err != nil || got.Status != sandrun.StatusOK || got.Usage.WallMs != 77 || got.Writer != "w0" {
			t.Fatalf("updated: %+v, %v", got, err)
		}
		missing := entry(9, base)
		if err := st.Update(ctx, missing); !errors.Is(err, audit.ErrNotFound) {
			t.Fatalf("Update(unknown) = %v, want ErrNotFound", err)
		}
	})

	t.Run("List", func(t *testing.T) {
		st := open(t)
		for i := range 12 {
			e := entry(i, base)
			if i%5 == 0 {
				e.Session = "5e55"
			}
			if err := st.Insert(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		ids := func(f audit.Filter) []int {
			t.Helper()
			got, err := st.List(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var out []int
			for _, e := range got {
				out = append(out, e.CodeSize-10)
			}
			return out
		}
		cases := []struct {
			name string
			f    audit.Filter
			want string
		}{
			{"all newest first", audit.Filter{}, "[11 10 9 8 7 6 5 4 3 2 1 0]"},
			{"limit", audit.Filter{Limit: 3}, "[11 10 9]"},
			{"offset", audit.Filter{Limit: 3, Offset: 3}, "[8 7 6]"},
			{"status", audit.Filter{Status: sandrun.StatusTimeout}, "[11 8 5 2]"},
			{"backend", audit.Filter{Backend: "jail"}, "[11 9 7 5 3 1]"},
			{"language", audit.Filter{Language: "bash"}, "[11 8 5 2]"},
			{"caller", audit.Filter{Caller: "alice"}, "[10 8 6 4 2 0]"},
			{"session", audit.Filter{Session: "5e55"}, "[10 5 0]"},
			{"since", audit.Filter{Since: base.Add(9 * time.Minute)}, "[11 10 9]"},
			{"until", audit.Filter{Until: base.Add(2 * time.Minute)}, "[1 0]"},
			{"combined", audit.Filter{Backend: "process", Status: sandrun.StatusOK}, "[6 0]"},
			{"sha", audit.Filter{CodeSHA256: fmt.Sprintf("%064X", 7)}, "[7]"},
			{"id prefix", audit.Filter{IDPrefix: fmt.Sprintf("%032x", 0xabc000)[:31]}, "[11 10 9 8 7 6 5 4 3 2 1 0]"},
			{"id prefix upper", audit.Filter{IDPrefix: fmt.Sprintf("%032X", 0xabc007)}, "[7]"},
			{"id prefix not hex", audit.Filter{IDPrefix: "%"}, "[]"},
		}
		for _, c := range cases {
			if got := fmt.Sprint(ids(c.f)); got != c.want {
				t.Errorf("%s: got %s, want %s", c.name, got, c.want)
			}
		}
		s, err := st.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s.Runs != 12 || s.Schema != audit.SchemaVersion() || !s.Oldest.Equal(base) || !s.Newest.Equal(base.Add(11*time.Minute)) {
			t.Fatalf("stats = %+v", s)
		}
		if err := st.CheckWritable(ctx); err != nil {
			t.Fatalf("CheckWritable on a healthy store: %v", err)
		}
	})

	t.Run("Prune", func(t *testing.T) {
		st := open(t)
		now := time.Now().UTC()
		// 10 runs, one per day back from now: 0 is today, 9 is 9 days old.
		// Inserted oldest first, as a log fills.
		for i := 9; i >= 0; i-- {
			e := entry(i, now)
			e.StartedAt = now.Add(-time.Duration(i) * 24 * time.Hour)
			if err := st.Insert(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		n, err := st.Prune(ctx, audit.Retention{MaxAge: 7*24*time.Hour - time.Hour})
		if err != nil || n != 3 {
			t.Fatalf("prune by age removed %d (%v), want 3 (days 7, 8, 9)", n, err)
		}
		n, err = st.Prune(ctx, audit.Retention{MaxRuns: 4})
		if err != nil || n != 3 {
			t.Fatalf("prune by count removed %d (%v), want 3", n, err)
		}
		got, err := st.List(ctx, audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var days []int
		for _, e := range got {
			days = append(days, e.CodeSize-10)
		}
		if fmt.Sprint(days) != "[0 1 2 3]" {
			t.Fatalf("kept %v, want the newest four [0 1 2 3]", days)
		}
		if n, err := st.Prune(ctx, audit.Retention{MaxRuns: 4, MaxAge: 30 * 24 * time.Hour}); err != nil || n != 0 {
			t.Fatalf("second prune removed %d (%v), want 0", n, err)
		}
	})
}
