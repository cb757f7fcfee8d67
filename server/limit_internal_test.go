package server

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
)

func TestLimiter(t *testing.T) {
	l := newLimiter(2, 1, 1<<20, 200*time.Millisecond)
	ctx := context.Background()
	r1, err1 := l.acquire(ctx, 100)
	r2, err2 := l.acquire(ctx, 100)
	if err1 != nil || err2 != nil || l.inFlight() != 2 {
		t.Fatal(err1, err2)
	}
	// The third waits in the queue; the fourth finds it full.
	got := make(chan error, 1)
	go func() {
		r, err := l.acquire(ctx, 100)
		if err == nil {
			defer r()
		}
		got <- err
	}()
	for {
		l.mu.Lock()
		w := l.waiting
		l.mu.Unlock()
		if w == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := l.acquire(ctx, 100); !errors.Is(err, errQueueFull) {
		t.Fatalf("fourth: %v", err)
	}
	if ra := l.retryAfter(3 * time.Second); ra != 3 { // (1 waiting + 1) x 3s / 2 slots
		t.Errorf("retryAfter %d", ra)
	}
	r1()
	if err := <-got; err != nil {
		t.Fatalf("queued run: %v", err)
	}
	// A queued run that waits too long is refused.
	r3, _ := l.acquire(ctx, 100)
	if _, err := l.acquire(ctx, 100); !errors.Is(err, errQueueTimeout) {
		t.Fatalf("timeout: %v", err)
	}
	// One that is cancelled while queued leaves the queue.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.acquire(cctx, 100); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	r2()
	r3()
	if l.inFlight() != 0 || l.waiting != 0 {
		t.Fatalf("leak: running %d waiting %d", l.inFlight(), l.waiting)
	}
}

// The queue is bounded by the memory its requests hold, not only by
// their number; the first waiter always gets in (a request the server
// took is never refused for its own size alone).
func TestLimiterQueueMemory(t *testing.T) {
	l := newLimiter(1, 10, 1000, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, _ := l.acquire(ctx, 10)
	errs := make(chan error, 2)
	go func() { _, err := l.acquire(ctx, 2000); errs <- err }()
	for l.waitingNow() != 1 {
		time.Sleep(time.Millisecond)
	}
	if _, err := l.acquire(ctx, 10); !errors.Is(err, errQueueMemory) {
		t.Fatalf("second waiter over the byte budget: %v", err)
	}
	cancel()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	r()
	if l.bytes != 0 {
		t.Fatalf("bytes leak: %d", l.bytes)
	}
}

func (l *limiter) waitingNow() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waiting
}

// Close's Wait must never race an Admit: once Drain has returned, no run
// is admitted, and Wait returns only after every admitted run is done.
// Run with -race: an Add racing Wait is reported there.
func TestAdmissionDrainRace(t *testing.T) {
	a, err := NewAdmission(AdmissionOptions{MaxConcurrent: 4, MaxQueue: 64})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	running, afterWait := 0, false
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ctx, done, err := a.Admit(context.Background(), &sandrun.Ticket{Kind: "run"})
				if err != nil {
					return // draining
				}
				mu.Lock()
				if afterWait {
					t.Error("a run was admitted after Wait returned")
				}
				running++
				mu.Unlock()
				select {
				case <-ctx.Done():
				case <-time.After(time.Millisecond):
				}
				mu.Lock()
				running--
				mu.Unlock()
				done(&sandrun.Result{Status: sandrun.StatusOK})
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	a.Drain()
	a.Stop()
	a.Wait()
	mu.Lock()
	afterWait = true
	if running != 0 {
		t.Errorf("Wait returned with %d runs still going", running)
	}
	mu.Unlock()
	wg.Wait()
	if _, _, err := a.Admit(context.Background(), &sandrun.Ticket{}); err == nil {
		t.Fatal("admitted after Drain")
	}
}
