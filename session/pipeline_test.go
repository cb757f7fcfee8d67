package session_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/session"
)

// records keeps what the pipeline recorded.
type records struct {
	mu  sync.Mutex
	got []sandrun.Result
}

func (r *records) Record(_ context.Context, _ *sandrun.Request, res *sandrun.Result) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, *res)
	return nil
}

func (r *records) last() sandrun.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[len(r.got)-1]
}

type noLoops struct{}

func (noLoops) Analyze(_, code string) error {
	if strings.Contains(code, "while") {
		return &sandrun.RejectError{Msg: "static limits: loops 1 > 0"}
	}
	return nil
}

// Issue 14: a session step goes through the run pipeline. It is recorded
// with its session's id, static limits refuse it as they refuse a run, and
// it takes the same limits object as a run.
func TestStepsGoThroughThePipeline(t *testing.T) {
	forEach(t, func(t *testing.T, b string) {
		rec := &records{}
		m := newManagerWith(t, b, sandrun.Options{Recorder: rec, Analyzer: noLoops{}}, nil)
		id := create(t, m, session.Spec{Language: "python"})

		res := run(t, m, id, "x = 41")
		if res.Session != id || rec.last().Session != id || rec.last().ID != res.ID || rec.last().Backend != b {
			t.Fatalf("step result %+v, recorded %+v", res, rec.last())
		}
		res, err := m.Run(context.Background(), id, session.RunRequest{Code: "while True: pass"})
		var rej *sandrun.RejectError
		if !errors.As(err, &rej) || res.Status != sandrun.StatusRejected || rec.last().Status != sandrun.StatusRejected || rec.last().Session != id {
			t.Fatalf("static limits: err %v res %+v", err, res)
		}
		// The refused step never ran: the state is as before.
		want(t, run(t, m, id, "print(x + 1)"), sandrun.StatusOK, "42\n")

		// The same limits object as a run: a step lowers its time limit...
		res, err = m.Run(context.Background(), id, session.RunRequest{Code: "import time\ntime.sleep(30)",
			Limits: sandrun.Limits{WallTime: sandrun.Duration(300 * time.Millisecond)}})
		if err != nil || res.Status != sandrun.StatusTimeout {
			t.Fatalf("limits.wall_time: %v %+v", err, res)
		}
		// ...but cannot raise it past the session's, nor change what the
		// session holds for its whole life.
		for field, l := range map[string]sandrun.Limits{
			"limits.wall_time": {WallTime: sandrun.Duration(time.Hour)},
			"limits.memory":    {Memory: 1 << 30},
		} {
			_, err := m.Run(context.Background(), id, session.RunRequest{Code: "pass", Limits: l})
			if !errors.Is(err, sandrun.ErrBadRequest) || !strings.Contains(err.Error(), field+":") {
				t.Errorf("%s: %v", field, err)
			}
		}
		// timeout stays as a deprecated alias; both at once must agree.
		res, err = m.Run(context.Background(), id, session.RunRequest{Code: "import time\ntime.sleep(30)", Timeout: sandrun.Duration(300 * time.Millisecond)})
		if err != nil || res.Status != sandrun.StatusTimeout {
			t.Fatalf("timeout alias: %v %+v", err, res)
		}
		_, err = m.Run(context.Background(), id, session.RunRequest{Code: "pass", Timeout: sandrun.Duration(time.Second),
			Limits: sandrun.Limits{WallTime: sandrun.Duration(2 * time.Second)}})
		if !errors.Is(err, sandrun.ErrBadRequest) {
			t.Fatalf("timeout and limits.wall_time disagreeing: %v", err)
		}
	})
}

// A session is created with limits resolved by the Sandbox's Policy: its
// caps apply, and the Info shows every limit set.
func TestCreateLimitsFollowThePolicy(t *testing.T) {
	pol := sandrun.Policy{Caps: sandrun.Limits{Memory: 128 << 20}, Source: "test"}
	m := newManagerWith(t, "process", sandrun.Options{Policy: pol}, nil)
	_, err := m.Create(context.Background(), session.Spec{Language: "python", Limits: sandrun.Limits{Memory: 1 << 30}})
	if !errors.Is(err, sandrun.ErrBadRequest) || !strings.Contains(err.Error(), "limits.memory: 1GiB is above the cap of 128MiB (test)") {
		t.Fatalf("over the cap: %v", err)
	}
	in, err := m.Create(context.Background(), session.Spec{Language: "python"})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Limits.Resolved(); err != nil || in.Limits.Memory != 128<<20 {
		t.Fatalf("limits %+v: %v", in.Limits, err)
	}
}
