//go:build linux

package jail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"sync"
	"syscall"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/verdict"
	"github.com/sandrun/sandrun/lang"
)

// Launch implements sandrun.Launcher: a long-lived jailed interpreter
// whose standard streams the caller drives. It gets every layer a
// one-shot run gets; Limits.WallTime bounds its whole life until
// SetLimits sets the limits of the next step.
func (b *Backend) Launch(ctx context.Context, ls *sandrun.LaunchSpec) (sandrun.Launched, error) {
	if b.host != nil {
		return nil, b.host
	}
	if ls == nil {
		return nil, errors.New("jail: nil launch spec")
	}
	l, err := b.opts.Languages.Lookup(ctx, sandrun.NormalizeLanguage(ls.Language))
	if err != nil {
		return nil, err
	}
	if err := ls.Limits.Validate(); err != nil {
		return nil, err
	}
	if err := ls.Limits.Resolved(); err != nil {
		return nil, err
	}
	lim := ls.Limits
	var files []initFile
	for _, f := range ls.Files {
		data, err := f.Bytes()
		if err != nil {
			return nil, &sandrun.RequestError{Field: "files", Msg: err.Error()}
		}
		files = append(files, initFile{Name: path.Clean(f.Name), Data: data, Mode: 0o644})
	}
	// A network allowlist holds for the process's whole life: its proxy
	// is opened in the jail's namespace before the program starts, as
	// for a one-shot run, and ends with it.
	env := maps.Clone(ls.Env)
	if env == nil {
		env = map[string]string{}
	}
	nn, err := b.networkFor(ls.Network, env)
	if err != nil {
		return nil, err
	}
	attach, netHit := func(*proc) {}, func() string { return "" }
	if nn != nil {
		attach, netHit = nn.latch()
	}
	// nil streams in the spec: the caller drives the pipes directly.
	p, err := b.start(&spec{
		lang: l, argv: append([]string{l.Interpreter}, ls.Args...), env: programEnv(l, env),
		files: files, limits: lim, net: nn,
	})
	if err != nil {
		nn.stop()
		return nil, err
	}
	attach(p)
	j := &launched{p: p, l: l, stdin: p.stdin, stdout: p.outs[0], stderr: p.outs[1], done: make(chan struct{}), net: nn, netHit: netHit}
	go p.watch(j.done)
	j.stopCtx = context.AfterFunc(ctx, func() { p.kill(verdict.KillCancel, "") })
	// Wait for the init's verdict on the setup, so that a layer that
	// cannot be applied fails the launch (fail closed) instead of the
	// first read. watch bounds the wait (Options.SetupTimeout).
	<-p.started
	p.mu.Lock()
	started := !p.start.IsZero()
	p.mu.Unlock()
	if !started {
		if _, err := j.Wait(); err != nil {
			return nil, err
		}
		return nil, &SetupError{Layer: LayerProtocol, Detail: "the jail init ended before the program started"}
	}
	return j, nil
}

// launched is a running jailed process (sandrun.Launched).
type launched struct {
	p       *proc
	l       *lang.Language
	stdin   *os.File
	stdout  *os.File
	stderr  *os.File
	done    chan struct{}
	stopCtx func() bool
	// net is the proxy of a process with a network allowlist (nil:
	// none); netHit names the cap that killed it.
	net    *jailNet
	netHit func() string

	once sync.Once
	exit *sandrun.LaunchExit
	err  error
}

func (j *launched) Stdin() io.Writer  { return j.stdin }
func (j *launched) Stdout() io.Reader { return j.stdout }
func (j *launched) Stderr() io.Reader { return j.stderr }

// Signal sends sig to the program's process group (through the init).
func (j *launched) Signal(sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("jail: unsupported signal %v", sig)
	}
	return j.p.signal(s)
}

// SetLimits applies new limits from now on: memory and pids at once
// (cgroup), wall and CPU time counted from this call.
func (j *launched) SetLimits(l sandrun.Limits) error {
	if err := l.Validate(); err != nil {
		return err
	}
	if err := l.Resolved(); err != nil {
		return err
	}
	p := j.p
	p.mu.Lock()
	cg := p.cg // cleanup clears it under p.mu when the process ends
	p.mu.Unlock()
	if cg != nil {
		if err := cg.Set(cgLimits(l, 0)); err != nil {
			return &SetupError{Layer: LayerCgroup, Errno: errnoOf(err), Err: err}
		}
	}
	p.mu.Lock()
	p.limits = l
	p.limitsSince = time.Now()
	if cg != nil {
		p.cpuBase = cg.CPU()
	}
	p.mu.Unlock()
	return nil
}

// Kill ends the whole jail; Wait then returns.
func (j *launched) Kill() error {
	j.p.kill(verdict.KillCancel, "")
	return nil
}

// Wait waits for the end, reports it and releases everything.
func (j *launched) Wait() (*sandrun.LaunchExit, error) {
	j.once.Do(func() {
		o := j.p.wait()
		close(j.done)
		j.stopCtx()
		j.stdin.Close()
		netUsage := j.net.stop()
		if o.err != nil {
			j.err = o.err
			return
		}
		j.p.mu.Lock()
		lim := j.p.limits
		j.p.mu.Unlock()
		var r sandrun.Result
		f := o.facts(lim, j.l, "")
		f.Network = j.netHit()
		verdict.Decide(f, &r)
		j.exit = &sandrun.LaunchExit{
			Status: r.Status, ExitCode: r.ExitCode, Signal: r.Signal, Error: r.Error,
			Usage: o.usage(),
		}
		j.exit.Usage.Network = netUsage
	})
	return j.exit, j.err
}

// WorkDir is the jail's /work seen from the host, while it runs.
func (j *launched) WorkDir() string {
	if j.p.init == nil {
		return ""
	}
	return fmt.Sprintf("/proc/%d/root/work", j.p.init.Pid)
}

// UsageSoFar implements sandrun.UsageReporter from the jail's cgroup:
// CPU time and the memory peak since the launch (zero without a cgroup),
// and the proxy's record (nil without a network allowlist).
func (j *launched) UsageSoFar() sandrun.Usage {
	j.p.mu.Lock()
	cg := j.p.cg // cleanup clears it under p.mu when the process ends
	j.p.mu.Unlock()
	u := sandrun.Usage{Network: j.net.usage()}
	if cg == nil {
		return u
	}
	st := cg.Stats()
	u.CPUMs, u.MemoryPeakBytes = st.CPU.Milliseconds(), st.PeakMem
	return u
}
