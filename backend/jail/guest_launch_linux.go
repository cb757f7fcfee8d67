//go:build linux

package jail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/guest"
	"github.com/sandrun/sandrun/internal/verdict"
	"github.com/sandrun/sandrun/lang"
	"golang.org/x/sys/unix"
)

// LaunchGuest implements guest.Runner: a long-lived guest child whose
// standard streams the caller drives (a restricted python session). Its
// limits are the spec's for its whole life (WallTime is its lifetime);
// run.Serve serves the channel as long as it lives.
func (b *Backend) LaunchGuest(ctx context.Context, ls *sandrun.LaunchSpec, run *guest.Run) (sandrun.Launched, error) {
	if err := ls.Limits.Validate(); err != nil {
		return nil, err
	}
	if err := ls.Limits.Resolved(); err != nil {
		return nil, err
	}
	var j sandrun.Launched
	err := b.onGuest(ctx, run.Guest, func(w *warmPath, l *lang.Language) (err error) {
		j, err = b.launchGuestOnce(ctx, w, l, ls, run)
		return err
	})
	return j, err
}

func (b *Backend) launchGuestOnce(ctx context.Context, w *warmPath, l *lang.Language, ls *sandrun.LaunchSpec, run *guest.Run) (sandrun.Launched, error) {
	r, err := b.takeGuest(ctx, w, run.Guest, l)
	if err != nil {
		return nil, err
	}
	r.guest.streams = true
	conn, childEnd, err := guestChannel()
	if err != nil {
		r.discard()
		return nil, err
	}
	if err := b.startGuest(r, ls.Limits, run.Config, childEnd, nil, nil); err != nil {
		conn.Close()
		return nil, err
	}
	w.forked.Add(1)
	j := &launchedGuest{r: r, l: l, conn: conn, served: make(chan struct{}), done: make(chan struct{})}
	if run.Serve != nil {
		go func() {
			defer close(j.served)
			run.Serve(conn)
		}()
	} else {
		close(j.served)
	}
	go r.watch(j.done)
	j.stopCtx = context.AfterFunc(ctx, func() { r.kill(verdict.KillCancel, "") })
	return j, nil
}

// launchedGuest is a running guest child (sandrun.Launched).
type launchedGuest struct {
	r       *warmRun
	l       *lang.Language
	conn    net.Conn
	served  chan struct{}
	done    chan struct{}
	stopCtx func() bool

	once sync.Once
	exit *sandrun.LaunchExit
	err  error
}

func (j *launchedGuest) Stdin() io.Writer  { return j.r.stdin }
func (j *launchedGuest) Stdout() io.Reader { return j.r.outs[0] }
func (j *launchedGuest) Stderr() io.Reader { return j.r.outs[1] }

// Signal signals the program (the child itself: it has no reaper).
func (j *launchedGuest) Signal(sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("jail: unsupported signal %v", sig)
	}
	j.r.mu.Lock()
	defer j.r.mu.Unlock()
	if j.r.ended || j.r.pidfd < 0 {
		return errors.New("jail: the guest child has ended")
	}
	return unix.PidfdSendSignal(j.r.pidfd, s, nil, 0)
}

// SetLimits is not offered: a guest child's limits are set at its
// launch, for its life.
func (j *launchedGuest) SetLimits(sandrun.Limits) error {
	return errors.New("jail: a guest child's limits are fixed at its launch")
}

// Kill ends the child; Wait then returns.
func (j *launchedGuest) Kill() error {
	j.r.kill(verdict.KillCancel, "")
	return nil
}

// Wait waits for the end, reports it and releases everything.
func (j *launchedGuest) Wait() (*sandrun.LaunchExit, error) {
	j.once.Do(func() {
		o := j.r.wait(nil)
		close(j.done)
		j.stopCtx()
		select {
		case <-j.served:
		case <-time.After(2 * time.Second):
		}
		j.conn.Close()
		<-j.served
		if o.err != nil {
			j.err = o.err
			return
		}
		var r sandrun.Result
		verdict.Decide(o.facts(j.r.lim, j.l, ""), &r)
		j.exit = &sandrun.LaunchExit{Status: r.Status, ExitCode: r.ExitCode, Signal: r.Signal, Error: r.Error, Usage: o.usage()}
	})
	return j.exit, j.err
}

// WorkDir is empty: a guest child has no work directory.
func (j *launchedGuest) WorkDir() string { return "" }

// UsageSoFar implements sandrun.UsageReporter from the child's cgroup.
func (j *launchedGuest) UsageSoFar() sandrun.Usage {
	select {
	case <-j.done:
		return sandrun.Usage{} // its cgroup is being removed
	default:
	}
	j.r.mu.Lock()
	cg, base := j.r.cg, j.r.cpuBase
	j.r.mu.Unlock()
	if cg == nil {
		return sandrun.Usage{}
	}
	st := cg.Stats()
	// What it used before its start (setup, warm-up) is not the session's.
	return sandrun.Usage{CPUMs: max(st.CPU-base, 0).Milliseconds(), MemoryPeakBytes: st.PeakMem}
}
