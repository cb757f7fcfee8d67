package kubernetes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/capture"
	"github.com/sandrun/sandrun/internal/markstream"
	"github.com/sandrun/sandrun/internal/verdict"
	"golang.org/x/sys/unix"
)

var _ sandrun.Launcher = (*Backend)(nil)

// Launch implements sandrun.Launcher: a long-lived process in a pod of its
// own with every protection of a one-shot run, whose stdin, stdout and
// stderr the caller drives over the attach stream (sessions). spec.Args
// follow the language's interpreter in the image; spec.Files are unpacked
// into /work before it starts. WallTime is the pod's lifetime. The pod is
// a warm one when the limits have the pool's shape.
func (b *Backend) Launch(ctx context.Context, spec *sandrun.LaunchSpec) (sandrun.Launched, error) {
	if err := sandrun.RefuseNetwork(Name, spec.Network); err != nil {
		return nil, err
	}
	im, st, mark, err := b.begin(ctx, spec.Language)
	if err != nil {
		return nil, err
	}
	req := &sandrun.Request{Language: spec.Language, Files: spec.Files, Env: spec.Env, Limits: spec.Limits.WithDefaults()}
	in, err := payload(im.FileName, append([]string{im.ImageArgv[0]}, spec.Args...), req, mark, false)
	if err != nil {
		return nil, err
	}
	a, err := b.acquire(ctx, st, b.shapeFor(req), req.Limits.WallTime.D())
	if err != nil {
		return nil, err
	}
	stdinR, stdinW := io.Pipe()
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	l := &launched{b: b, st: st, a: a, lim: req.Limits, oom: im.OOMMarkers, stdin: stdinW, stdout: outR, stderr: errR,
		split: &markstream.Splitter{Mark: []byte(mark), Out: outW}, errTail: capture.New("stderr", 16<<10, nil, nil),
		streamDone: make(chan struct{}), done: make(chan struct{}), started: time.Now()}
	actx, cancel := context.WithCancel(context.Background())
	l.cancelAttach = cancel
	go func() {
		defer close(l.streamDone)
		err := st.api.attach(actx, a.name, io.MultiReader(bytes.NewReader(in), stdinR), l.split, io.MultiWriter(errW, l.errTail))
		l.split.Flush()
		l.attachErr = err
		_ = outW.Close()
		_ = errW.Close()
		_ = stdinR.Close()
	}()
	l.timer = time.AfterFunc(req.Limits.WallTime.D(), func() { l.kill(verdict.KillTimeout) })
	// The attach stream ends only once our side of stdin is closed too:
	// close it when the pod is over (its program ended, or it was killed).
	go func() {
		select {
		case <-a.over:
		case <-l.streamDone:
		}
		_ = stdinW.Close()
	}()
	if a.warm {
		b.warmRuns.Add(1)
	} else {
		b.coldRuns.Add(1)
	}
	return l, nil
}

// launched is one long-lived pod.
type launched struct {
	b       *Backend
	st      *state
	a       *acquired
	lim     sandrun.Limits
	oom     []string
	stdin   *io.PipeWriter
	stdout  *io.PipeReader
	stderr  *io.PipeReader
	split   *markstream.Splitter
	errTail *capture.Buffer
	started time.Time
	timer   *time.Timer

	cancelAttach context.CancelFunc
	streamDone   chan struct{}
	attachErr    error

	killed verdict.KillRecord

	waitOnce sync.Once
	done     chan struct{}
	result   *sandrun.LaunchExit
}

func (l *launched) Stdin() io.Writer  { return l.stdin }
func (l *launched) Stdout() io.Reader { return l.stdout }
func (l *launched) Stderr() io.Reader { return l.stderr }

// WorkDir is "": /work lives in the pod only.
func (l *launched) WorkDir() string { return "" }

// Signal sends sig to every process of the program (an exec of `kill` in
// the pod, as the pod's uid: pid 1, the boot shell, is spared).
func (l *launched) Signal(sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("unsupported signal %v", sig)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	name := strings.TrimPrefix(unix.SignalName(s), "SIG")
	return l.st.api.exec(ctx, l.a.name, []string{"/bin/sh", "-c", "kill -s " + name + " -- -1"})
}

// SetLimits can only shorten the wall-clock limit: everything else is
// fixed in the pod's spec and rlimits when it starts; asking to change it
// fails, and the caller should launch a new one.
func (l *launched) SetLimits(n sandrun.Limits) error {
	n = n.WithDefaults()
	wall, o := n.WallTime, l.lim
	n.WallTime, o.WallTime = 0, 0
	if n != o {
		return errors.New("kubernetes: a running pod's limits other than the wall clock cannot change")
	}
	if wall < l.lim.WallTime {
		l.timer.Reset(max(wall.D()-time.Since(l.started), 0))
	}
	return nil
}

// Kill ends the pod; Wait then returns.
func (l *launched) Kill() error { l.kill(verdict.KillCancel); return nil }

func (l *launched) kill(why verdict.Kill) {
	if !l.killed.Set(why, "") {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.st.api.deletePod(ctx, l.a.name); err != nil {
		l.b.opts.Logger.Warn("kubernetes: killing a launched pod", "pod", l.a.name, "err", err)
	}
}

// Wait waits for the program's end and reports it; the pod is deleted.
func (l *launched) Wait() (*sandrun.LaunchExit, error) {
	l.waitOnce.Do(func() {
		defer close(l.done)
		<-l.streamDone
		l.timer.Stop()
		wall := time.Since(l.started)
		defer l.a.unsub()
		defer l.b.deleteLater(l.st, l.a.name)
		defer l.cancelAttach()
		f := verdict.Facts{Limits: l.lim, OOMMarkers: l.oom}
		l.killed.Fill(&f)
		ex := &sandrun.LaunchExit{Usage: sandrun.Usage{WallMs: wall.Milliseconds()}}
		rest, _ := l.split.Rest()
		tr, _, haveTrailer := parseTrailer(rest)
		switch {
		case f.Killed != verdict.KillNone:
			f.Signal = syscall.SIGKILL
		case haveTrailer:
			setExit(&f, tr.Status)
			if s := syscall.Signal(tr.Status - 128); tr.Status > 128 && (s == syscall.SIGINT || s == syscall.SIGTERM) {
				f.Exited, f.ExitCode, f.Signal = false, -1, s
			}
			f.CPU = tr.CPU
			ex.Usage.CPUMs = tr.CPU.Milliseconds()
			if f.Signal == syscall.SIGKILL {
				f.OOMKilled = l.b.oomReported(context.Background(), l.a)
			}
		default:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err := l.b.endedWithoutTrailer(ctx, l.a, &f, l.attachErr, l.errTail)
			cancel()
			if err != nil {
				ex.Status, ex.ExitCode, ex.Error = sandrun.StatusInternalError, -1, err.Error()
				l.result = ex
				return
			}
		}
		f.Stderr = string(l.errTail.Bytes())
		var res sandrun.Result
		verdict.Decide(f, &res)
		ex.Status, ex.ExitCode, ex.Signal, ex.Error = res.Status, res.ExitCode, res.Signal, res.Error
		l.result = ex
	})
	<-l.done
	return l.result, nil
}
