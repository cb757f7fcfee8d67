//go:build linux

package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/capture"
	"github.com/sandrun/sandrun/internal/verdict"
	"github.com/sandrun/sandrun/internal/workdir"
	"github.com/sandrun/sandrun/lang"
)

var _ sandrun.Launcher = (*Backend)(nil)

// Launch implements sandrun.Launcher: a long-lived interpreter with the
// tier's rlimits, scrubbed environment, private work directory and
// process-group kill. The command line is the interpreter's path and
// spec.Args (the caller adds the language's flags it wants).
// spec.Limits.WallTime is the process's maximum lifetime. ctx bounds the launch only; the process lives until Kill, the
// lifetime limit, or its own exit. The python import hook is not applied:
// a launched interpreter runs a driver (which needs os), not a file.
func (b *Backend) Launch(ctx context.Context, spec *sandrun.LaunchSpec) (sandrun.Launched, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if spec == nil {
		return nil, errors.New("process: nil launch spec")
	}
	if err := sandrun.RefuseNetwork(Name, spec.Network); err != nil {
		return nil, err // the host's network is not a policy
	}
	if err := spec.Limits.Validate(); err != nil {
		return nil, err
	}
	if err := spec.Limits.Resolved(); err != nil {
		return nil, err
	}
	lim := spec.Limits
	l, err := b.opts.Languages.Lookup(ctx, spec.Language)
	if err != nil {
		return nil, err
	}
	dir, err := workdir.Make(b.base)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			_ = workdir.Remove(dir)
		}
	}()
	if err := workdir.WriteFiles(dir, spec.Files, 0o600); err != nil {
		return nil, fmt.Errorf("writing launch files: %w", err)
	}
	tmp := filepath.Join(dir, ".tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return nil, err
	}
	id, err := b.iso.acquire(lim, b.need(l))
	if err != nil {
		return nil, fmt.Errorf("process tier isolation: %w", err)
	}
	defer func() {
		if !ok {
			id.release()
		}
	}()
	if err := id.chown(dir); err != nil {
		return nil, fmt.Errorf("giving the work dir to the run's uid: %w", err)
	}
	argv := append([]string{l.Interpreter}, spec.Args...)
	env := buildEnv(dir, tmp, l, &sandrun.Request{Env: spec.Env})

	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err == nil {
			files = append(files, r, w)
		}
		return r, w, err
	}
	inR, inW, err1 := pipe()
	outR, outW, err2 := pipe()
	errR, errW, err3 := pipe()
	if err := errors.Join(err1, err2, err3); err != nil {
		closeAll()
		return nil, fmt.Errorf("pipes: %w", err)
	}
	cmd := &exec.Cmd{Path: argv[0], Args: argv, Env: env, Dir: dir, Stdin: inR, Stdout: outW, Stderr: errW}
	pid, letGo, err := startLimited(cmd, lim, l.AddressSpaceLimit, id)
	if err != nil {
		closeAll()
		return nil, err
	}
	// The child holds its ends now; ours would keep EOF from coming.
	inR.Close()
	outW.Close()
	errW.Close()
	p := &launched{
		b: b, cmd: cmd, pid: pid, dir: dir, id: id, letGo: letGo, lim: lim, cpuCap: lim.CPUTime, lang: l, start: time.Now(),
		stdin: inW, stdout: outR, stderr: errR,
		// The launch's stderr is kept to a small tail for the verdict's
		// allocation-failure markers; the caller reads the stream itself.
		errTail: capture.New("stderr", 64<<10, nil, nil),
		done:    make(chan struct{}),
	}
	p.timer = time.AfterFunc(lim.WallTime.D(), func() { p.kill(verdict.KillTimeout) })
	ok = true
	return p, nil
}

type launched struct {
	b      *Backend
	cmd    *exec.Cmd
	pid    int
	id     *identity
	letGo  func()
	dir    string
	lang   *lang.Language
	start  time.Time
	timer  *time.Timer
	stdin  *os.File
	stdout *os.File
	stderr *os.File

	errTail *capture.Buffer

	cpuCap sandrun.Duration // RLIMIT_CPU applied at launch

	mu     sync.Mutex
	lim    sandrun.Limits
	killed verdict.Kill
	exited bool

	waitOnce sync.Once
	done     chan struct{}
	exit     *sandrun.LaunchExit
	waitErr  error
}

func (p *launched) Stdin() io.Writer  { return p.stdin }
func (p *launched) Stdout() io.Reader { return p.stdout }
func (p *launched) Stderr() io.Reader { return io.TeeReader(p.stderr, p.errTail) }
func (p *launched) WorkDir() string   { return p.dir }

func (p *launched) Signal(sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("process: unsupported signal %v", sig)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return os.ErrProcessDone
	}
	return syscall.Kill(p.pid, s)
}

func (p *launched) kill(why verdict.Kill) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.killed == verdict.KillNone {
		p.killed = why
	}
	if !p.exited {
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		p.id.kill()
	}
}

func (p *launched) Kill() error {
	p.kill(verdict.KillCancel)
	return nil
}

// SetLimits tightens the rlimits of the running interpreter. RLIMIT_CPU
// counts from the process's start, so the new CPU limit is added to what
// it has used so far. The wall-clock limit becomes the remaining lifetime
// from now when that is sooner than the current deadline.
func (p *launched) SetLimits(l sandrun.Limits) error {
	if err := l.Validate(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return os.ErrProcessDone
	}
	cur := p.lim
	if err := l.Resolved(); err != nil {
		return err
	}
	nl := cur
	nl.CPUTime = min(cur.CPUTime, l.CPUTime)
	nl.Memory = min(cur.Memory, l.Memory)
	nl.Processes = min(cur.Processes, l.Processes)
	nl.OpenFiles = min(cur.OpenFiles, l.OpenFiles)
	nl.FileSize = min(cur.FileSize, l.FileSize)
	nl.Output = min(cur.Output, l.Output)
	nl.WorkDir = min(cur.WorkDir, l.WorkDir)
	used, err := cpuUsed(p.pid)
	if err != nil {
		return fmt.Errorf("reading CPU use: %w", err)
	}
	// RLIMIT_CPU counts from the start and a hard limit cannot be raised
	// without CAP_SYS_RESOURCE: the new budget is what is left of the
	// launch's, at most.
	applied := nl
	applied.CPUTime = min(sandrun.Duration(used)+nl.CPUTime, p.cpuCap)
	if err := applyRlimitsAs(p.id, p.pid, applied, p.lang.AddressSpaceLimit); err != nil {
		return fmt.Errorf("rlimits: %w", err)
	}
	elapsed := time.Since(p.start)
	if remaining := cur.WallTime.D() - elapsed; l.WallTime.D() < remaining {
		nl.WallTime = sandrun.Duration(elapsed + l.WallTime.D())
		p.timer.Reset(l.WallTime.D())
	}
	p.lim = nl
	return nil
}

// UsageSoFar implements sandrun.UsageReporter: the run cgroup's CPU time
// and memory peak when the tier has one, else the interpreter's own from
// /proc (its CPU time and VmHWM).
func (p *launched) UsageSoFar() sandrun.Usage {
	if cpu, peak, _, ok := p.id.groupStats(); ok {
		return sandrun.Usage{CPUMs: cpu.Milliseconds(), MemoryPeakBytes: peak}
	}
	var u sandrun.Usage
	if cpu, err := cpuUsed(p.pid); err == nil {
		u.CPUMs = cpu.Milliseconds()
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				if kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64); err == nil {
					u.MemoryPeakBytes = kb << 10
				}
			}
		}
	}
	return u
}

// cpuUsed reads utime+stime of pid from /proc (clock ticks of 10ms on
// every Linux configuration Go supports here).
func cpuUsed(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("malformed /proc stat times")
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// Wait waits for the interpreter to end, kills what is left of its group,
// and removes the work directory. It is safe to call more than once.
func (p *launched) Wait() (*sandrun.LaunchExit, error) {
	p.waitOnce.Do(p.wait)
	<-p.done
	return p.exit, p.waitErr
}

func (p *launched) wait() {
	defer close(p.done)
	werr := p.cmd.Wait()
	p.timer.Stop()
	p.mu.Lock()
	p.exited = true
	killed, lim := p.killed, p.lim
	p.mu.Unlock()
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	p.id.kill()
	p.letGo()
	p.stdin.Close()
	defer func() {
		p.stdout.Close()
		p.stderr.Close()
		p.id.release()
		if err := workdir.Remove(p.dir); err != nil {
			p.b.opts.Logger.Error("removing work dir", "dir", p.dir, "err", err)
		}
	}()
	ps := p.cmd.ProcessState
	if ps == nil {
		p.waitErr = fmt.Errorf("waiting for the interpreter: %w", werr)
		return
	}
	ws, _ := ps.Sys().(syscall.WaitStatus)
	if killed == verdict.KillCancel && signalOf(ws) != syscall.SIGKILL {
		// Kill came after the process had already ended on its own.
		killed = verdict.KillNone
	}
	f := verdict.Facts{
		Exited: ws.Exited(), ExitCode: ws.ExitStatus(), Signal: signalOf(ws),
		Killed: killed, Limits: lim, OOMMarkers: p.lang.OOMMarkers,
		CPU:    ps.UserTime() + ps.SystemTime(),
		Stderr: string(p.errTail.Bytes()),
	}
	if cpu, _, oom, ok := p.id.groupStats(); ok {
		f.CPU, f.OOMKilled = max(f.CPU, cpu), oom
	}
	var res sandrun.Result
	verdict.Decide(f, &res)
	if killed == verdict.KillCancel {
		res.Status, res.Error = sandrun.StatusSignaled, "the process was killed by its supervisor"
	}
	ex := &sandrun.LaunchExit{
		Status: res.Status, ExitCode: res.ExitCode, Signal: res.Signal, Error: res.Error,
		Usage: sandrun.Usage{WallMs: time.Since(p.start).Milliseconds(), CPUMs: f.CPU.Milliseconds()},
	}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok && ru != nil {
		ex.Usage.MemoryPeakBytes = ru.Maxrss * 1024
	}
	p.exit = ex
}
