//go:build linux

package jail

import (
	"testing"
	"time"
)

// awaitGuestsIdle's cases, without a zygote: a refill goes ahead at once
// when nothing waits in the channel, waits while a run is in flight and a
// child still waits, goes ahead once the channel runs dry or the guests
// have been quiet, and stops when the path closes.
func TestAwaitGuestsIdle(t *testing.T) {
	newB := func() (*Backend, *warmPath, chan *warmRun) {
		b := &Backend{}
		b.guest.idle = make(chan struct{}, 1)
		b.guest.taken = make(chan struct{}, 1)
		return b, &warmPath{closing: make(chan struct{})}, make(chan *warmRun, GuestPrefork)
	}
	wait := func(t *testing.T, name string, done <-chan bool, want bool) {
		t.Helper()
		select {
		case got := <-done:
			if got != want {
				t.Errorf("%s: awaitGuestsIdle said %v, want %v", name, got, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: awaitGuestsIdle did not return", name)
		}
	}
	async := func(b *Backend, w *warmPath, ch chan *warmRun) <-chan bool {
		done := make(chan bool, 1)
		go func() { done <- b.awaitGuestsIdle(w, ch) }()
		return done
	}

	b, w, ch := newB()
	if !b.awaitGuestsIdle(w, ch) {
		t.Error("an empty channel: the refill must go ahead")
	}

	// A run in flight, a child waiting; the run takes it: refill at once.
	b, w, ch = newB()
	b.guest.running.Store(1)
	ch <- &warmRun{}
	done := async(b, w, ch)
	<-ch
	b.guest.taken <- struct{}{}
	wait(t, "the channel ran dry", done, true)

	// The channel full, a run in flight that takes a child and ends: the
	// refill goes ahead at its end.
	b, w, ch = newB()
	b.guest.running.Store(1)
	for range cap(ch) {
		ch <- &warmRun{}
	}
	done = async(b, w, ch)
	<-ch
	b.guest.taken <- struct{}{}
	b.guest.running.Store(0)
	b.guest.idle <- struct{}{}
	wait(t, "a child short", done, true)

	// No run in flight, the channel full: the refill goes ahead after
	// the quiet period.
	b, w, ch = newB()
	for range cap(ch) {
		ch <- &warmRun{}
	}
	wait(t, "quiet", async(b, w, ch), true)

	// A run in flight, a child waiting, the path closes.
	b, w, ch = newB()
	b.guest.running.Store(1)
	ch <- &warmRun{}
	done = async(b, w, ch)
	close(w.closing)
	wait(t, "closing", done, false)
}
