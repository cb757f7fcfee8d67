package server

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := newLimiter(2, 1, 200*time.Millisecond)
	ctx := context.Background()
	r1, err1 := l.acquire(ctx)
	r2, err2 := l.acquire(ctx)
	if err1 != nil || err2 != nil || l.inFlight() != 2 {
		t.Fatal(err1, err2)
	}
	// The third waits in the queue; the fourth finds it full.
	got := make(chan error, 1)
	go func() {
		r, err := l.acquire(ctx)
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
	if _, err := l.acquire(ctx); !errors.Is(err, errQueueFull) {
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
	r3, _ := l.acquire(ctx)
	if _, err := l.acquire(ctx); !errors.Is(err, errQueueTimeout) {
		t.Fatalf("timeout: %v", err)
	}
	// One that is cancelled while queued leaves the queue.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.acquire(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	r2()
	r3()
	if l.inFlight() != 0 || l.waiting != 0 {
		t.Fatalf("leak: running %d waiting %d", l.inFlight(), l.waiting)
	}
}
