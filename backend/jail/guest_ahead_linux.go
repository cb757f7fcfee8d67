//go:build linux

package jail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/verdict"
	"github.com/sandrun/sandrun/lang"
	"golang.org/x/sys/unix"
)

// Guest children forked ahead of their runs (guest_linux.go): taken by a
// run, refilled between runs, forked up to their run.

// takeGuest returns a child for a run: one forked ahead when there is
// one, else one forked now.
func (b *Backend) takeGuest(ctx context.Context, w *warmPath, name string, l *lang.Language) (*warmRun, error) {
	b.guest.mu.Lock()
	ch := b.guest.pending[name]
	b.guest.mu.Unlock()
	for {
		select {
		case r := <-ch:
			select { // fillGuests refills at once when ch runs dry
			case b.guest.taken <- struct{}{}:
			default:
			}
			if r.alive() {
				w.record(name, "")
				return r, nil
			}
			r.discard()
			continue
		default:
		}
		break
	}
	z, err := awaitZygote(ctx, w, name)
	if err != nil {
		return nil, err
	}
	w.record(name, coldNoChildAhead)
	var slot int
	select {
	case slot = <-z.slots:
	case <-z.dead:
		return nil, errCold
	case <-ctx.Done():
		return nil, fmt.Errorf("jail: waiting for a free %s child: %w", name, ctx.Err())
	}
	return b.forkGuest(z, slot, l)
}

// fillGuests keeps GuestPrefork children forked ahead for one guest.
func (b *Backend) fillGuests(w *warmPath, name string, ch chan *warmRun) {
	defer w.wg.Done()
	g, _ := b.guestSpec(name)
	pause := func() bool {
		select {
		case <-w.closing:
			return false
		case <-time.After(200 * time.Millisecond):
			return true
		}
	}
	for {
		if !b.awaitGuestsIdle(w, ch) {
			return
		}
		z := w.ready(name)
		if z == nil {
			if !pause() {
				return
			}
			continue
		}
		var slot int
		select {
		case slot = <-z.slots:
		case <-z.dead:
			continue
		case <-w.closing:
			return
		}
		l, err := b.opts.Languages.Lookup(context.Background(), g.Language)
		var r *warmRun
		if err == nil {
			r, err = b.forkGuest(z, slot, l)
		} else {
			z.put(slot)
		}
		if err != nil {
			if !errors.Is(err, errCold) {
				b.opts.Logger.Warn("jail: forking a guest child ahead", "guest", name, "err", err)
			}
			if !pause() {
				return
			}
			continue
		}
		select {
		case ch <- r:
		case <-w.closing:
			r.discard()
			return
		}
	}
}

// awaitGuestsIdle waits, while a child forked ahead is still waiting in
// ch, until no guest run is in flight, at most guestRefillWait: the next
// child is forked and warmed up between runs, not beside them. While ch
// is full (the child about to be forked is one more, for later), it
// waits until no run has been in flight for guestRefillQuiet: not beside
// the last run's result on its way out either. It returns at once when
// ch runs dry, and says false once the path is closing.
func (b *Backend) awaitGuestsIdle(w *warmPath, ch chan *warmRun) bool {
	if len(ch) == 0 {
		return true
	}
	limit := time.NewTimer(guestRefillWait)
	defer limit.Stop()
	quiet := time.NewTimer(guestRefillQuiet)
	defer quiet.Stop()
	for len(ch) > 0 {
		var quietC <-chan time.Time // nil (never) while a run is in flight
		if b.guest.running.Load() == 0 {
			if len(ch) < cap(ch) {
				// Runs came closer together than the quiet period: a
				// refill is due, and this is the gap between them.
				return true
			}
			quiet.Reset(guestRefillQuiet)
			quietC = quiet.C
		}
		select {
		case <-quietC:
			return true
		case <-b.guest.idle:
		case <-b.guest.taken:
		case <-limit.C:
			return true
		case <-w.closing:
			return false
		}
	}
	return true
}

// forkGuest forks a guest child up to its run: its handle, its
// run-independent layers, and its cgroup (joined at once, marked idle,
// with the default limits until its run's are set).
func (b *Backend) forkGuest(z *zygote, slot int, l *lang.Language) (*warmRun, error) {
	r := &warmRun{z: z, slot: slot, pidfd: -1, t0: time.Now(), guest: &guestStart{log: b.opts.Logger}}
	ok := false
	defer func() {
		if !ok {
			r.cleanup()
		}
	}()
	var procs []int
	var err error
	r.guest.limits = cgLimits(sandrun.Limits{}.WithDefaults(), b.opts.CPUs)
	if r.cg, err = b.cg.Create(r.guest.limits); err != nil {
		return nil, &SetupError{Layer: LayerCgroup, Errno: errnoOf(err), Detail: err.Error()}
	}
	r.cg.SetIdle(true) // no run yet: it weighs nothing
	if procs, err = r.cg.JoinFiles(); err != nil {
		return nil, &SetupError{Layer: LayerCgroup, Errno: errnoOf(err), Detail: err.Error()}
	}
	req := guestFork{Slot: slot}
	req.Guest.Landlock, req.Guest.Sys = guestLayers(l)
	req.Guest.Seccomp = b.guest.filter
	payload, err := json.Marshal(req)
	if err != nil {
		closeAll(procs)
		return nil, err
	}
	if err := r.forkChild(z, procs, func(fds []int) error { return z.forkWith(payload, fds) }); err != nil {
		return nil, err
	}
	r.tH = time.Now()
	ok = true
	return r, nil
}

// alive says whether a child forked ahead is still waiting for its run.
func (r *warmRun) alive() bool {
	fds := []unix.PollFd{{Fd: int32(r.pidfd), Events: unix.POLLIN}}
	n, _ := unix.Poll(fds, 0)
	return n == 0
}

// discard ends a child that will not run anything.
func (r *warmRun) discard() {
	r.kill(verdict.KillNone, "")
	_ = r.cleanup()
}
