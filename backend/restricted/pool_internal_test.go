package restricted

import (
	"context"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
)

func runDirect(t *testing.T, b *Backend, code string, lim sandrun.Limits) *sandrun.Result {
	t.Helper()
	res, err := b.Run(context.Background(), &sandrun.Request{Language: Language, Code: code, Limits: lim.WithDefaults()})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

// A worker is reused after a normal run and discarded after a limit.
func TestWorkerReuseAndDiscard(t *testing.T) {
	b, err := New(Options{Warm: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	idle := func() *proc {
		t.Helper()
		select {
		case w := <-b.pool.ready:
			b.pool.ready <- w
			return w
		case <-time.After(10 * time.Second):
			t.Fatal("no warm worker")
			return nil
		}
	}
	first := idle()
	if res := runDirect(t, b, "x = 1", sandrun.Limits{}); res.Status != sandrun.StatusOK {
		t.Fatalf("%+v", res)
	}
	if res := runDirect(t, b, "fail('x')", sandrun.Limits{}); res.Status != sandrun.StatusExitError {
		t.Fatalf("%+v", res)
	}
	// The same process served both runs and is idle again.
	if w := idle(); w != first || w.runs != 2 {
		t.Fatalf("worker not reused: %p runs=%d, first %p", w, w.runs, first)
	}
	res := runDirect(t, b, "while True:\n    pass", sandrun.Limits{CPUTime: sandrun.Duration(100 * time.Millisecond)})
	if res.Status != sandrun.StatusCPULimit {
		t.Fatalf("%+v", res)
	}
	select {
	case <-first.exited:
	case <-time.After(5 * time.Second):
		t.Fatal("a worker that hit a limit was not discarded")
	}
	if w := idle(); w == first {
		t.Fatal("the discarded worker came back")
	}
}

func TestCloseRetiresWorkers(t *testing.T) {
	b, err := New(Options{Warm: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res := runDirect(t, b, "print(1)", sandrun.Limits{}); res.Status != sandrun.StatusOK {
		t.Fatalf("%+v", res)
	}
	var ws []*proc
	deadline := time.After(10 * time.Second)
	for len(ws) < 2 {
		select {
		case w := <-b.pool.ready:
			ws = append(ws, w)
		case <-deadline:
			t.Fatal("warm workers did not come up")
		}
	}
	for _, w := range ws {
		b.pool.ready <- w
	}
	b.Close()
	for _, w := range ws {
		select {
		case <-w.exited:
		case <-time.After(5 * time.Second):
			t.Fatalf("worker %d outlived Close", w.pid)
		}
	}
}
