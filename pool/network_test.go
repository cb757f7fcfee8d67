package pool_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/pool"
	"github.com/sandrun/sandrun/session/sessiontest"
)

// netFallback is a fallback tier that says it enforces network policies
// and counts the runs it gets.
type netFallback struct {
	runs     atomic.Int64
	enforces error
}

func (f *netFallback) Name() string                        { return "netfallback" }
func (f *netFallback) Check(context.Context, string) error { return nil }
func (f *netFallback) EnforcesNetwork() error              { return f.enforces }
func (f *netFallback) Run(_ context.Context, req *sandrun.Request) (*sandrun.Result, error) {
	f.runs.Add(1)
	return &sandrun.Result{Status: sandrun.StatusOK, Stdout: "fallback " + req.Network.String()}, nil
}

// TestNetworkNeverWarm: a run with a network allowlist is never given a
// warm interpreter (launched with no proxy): it goes to the fallback,
// cold, and the pool enforces a network only as far as its fallback does.
func TestNetworkNeverWarm(t *testing.T) {
	pol, err := sandrun.ParseNetwork("allow:hosta.test:443")
	if err != nil {
		t.Fatal(err)
	}
	b := sessiontest.Backends()[0]
	fb := &netFallback{}
	p, err := pool.New(pool.Config{Launcher: sessiontest.Launcher(t, b), Tier: b, Sizes: map[string]int{"python": 1}, Fallback: fb, ReadyTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	waitReady(t, p, "python", 1)
	if err := p.EnforcesNetwork(); err != nil {
		t.Fatalf("EnforcesNetwork with an enforcing fallback: %v", err)
	}
	res := runOK(t, p, &sandrun.Request{Language: "python", Code: "print(1)", Network: pol})
	if res.Stdout != "fallback allow:hosta.test:443" || fb.runs.Load() != 1 {
		t.Fatalf("networked run: %q, fallback runs %d", res.Stdout, fb.runs.Load())
	}
	if st := p.Stats(); st.Hits != 0 || st.Misses != 1 || st.Ready["python"] != 1 {
		t.Fatalf("stats %+v: the warm interpreter must stay unused", st)
	}
	// Without network the same pool serves warm.
	if res := runOK(t, p, &sandrun.Request{Language: "python", Code: "print(1)"}); res.Stdout != "1\n" || p.Stats().Hits != 1 {
		t.Fatalf("plain run: %q, stats %+v", res.Stdout, p.Stats())
	}

	// A fallback that cannot enforce one here: refused, naming the field.
	fb.enforces = errors.New("not root")
	if err := p.EnforcesNetwork(); err == nil || !strings.Contains(err.Error(), "not root") {
		t.Fatalf("EnforcesNetwork = %v", err)
	}
	req := &sandrun.Request{Language: "python", Code: "print(1)", Network: pol, Limits: sandrun.DefaultLimits()}
	if _, err := p.Run(context.Background(), req); !errors.Is(err, sandrun.ErrBadRequest) || !strings.Contains(err.Error(), "network") {
		t.Fatalf("run with a non-enforcing fallback: %v", err)
	}

	// No fallback at all: the pool cannot enforce an allowlist, and the
	// pipeline refuses the run before anything starts.
	bare, err := pool.New(pool.Config{Launcher: sessiontest.Launcher(t, b), Tier: b, Sizes: map[string]int{"python": 1}, ReadyTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bare.Close() })
	if err := bare.EnforcesNetwork(); err == nil {
		t.Fatal("a pool without a fallback claims to enforce a network allowlist")
	}
	sb := sessiontest.Sandbox(t, sandrun.Options{Backends: []sandrun.Backend{bare}})
	res, err = sb.Run(context.Background(), &sandrun.Request{Language: "python", Code: "print(1)", Network: pol})
	if !errors.Is(err, sandrun.ErrBadRequest) || res.Status != sandrun.StatusRejected || bare.Stats().Hits != 0 {
		t.Fatalf("pipeline: %v %s, stats %+v", err, res.Status, bare.Stats())
	}
}
