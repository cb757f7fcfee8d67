// Package process is the portable tier: the program runs as a child
// process with rlimits, a scrubbed environment, a private work directory
// and a process-group kill. It is a resource boundary, not a security
// boundary: the program shares the host's filesystem view and network
// (see the README's security section for its gaps).
package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
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

// Name is the tier's name.
const Name = "process"

// Options configure the backend.
type Options struct {
	Languages *lang.Registry
	// BaseDir holds the per-run work directories; empty means
	// workdir.Base().
	BaseDir string
	// BlockedModules are the Python modules the import hook refuses to user
	// code. nil means DefaultBlockedModules; an empty non-nil slice turns
	// the hook off.
	BlockedModules []string
	// StateDir holds the uid slot locks when the supervisor is root;
	// default /run/sandrun-process.
	StateDir string
	// UIDBase and UIDCount are the range of unused host uids programs run
	// under when the supervisor is root, one per concurrent run; default
	// DefaultUIDBase and DefaultUIDCount.
	UIDBase, UIDCount uint32
	Logger            *slog.Logger
}

// DefaultBlockedModules is the import hook's default list: modules that
// reach the OS, the network or native code. The hook is a speed bump that
// catches careless code, not a boundary: determined code gets around it.
func DefaultBlockedModules() []string {
	return []string{
		"os", "posix", "subprocess", "_posixsubprocess", "socket", "_socket", "ssl",
		"shutil", "ctypes", "_ctypes", "importlib", "multiprocessing", "pty", "signal",
		"resource", "fcntl", "mmap", "urllib", "http", "ftplib", "smtplib", "telnetlib",
		"requests", "pathlib", "tempfile", "glob", "sysconfig", "platform", "gc", "inspect",
	}
}

// Backend is the process tier.
type Backend struct {
	opts Options
	base string
	iso  *isolation
}

var _ sandrun.Backend = (*Backend)(nil)

// New returns the backend and sweeps what dead supervisors left: work
// directories, their runs' processes and cgroups, and the files their
// runs' uids left in the host's shared directories.
func New(opts Options) (*Backend, error) {
	if opts.Languages == nil {
		return nil, errors.New("process: no language registry")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.BlockedModules == nil {
		opts.BlockedModules = DefaultBlockedModules()
	}
	if err := closeInheritedFDs(); err != nil {
		return nil, fmt.Errorf("process: marking inherited descriptors close-on-exec: %w", err)
	}
	iso, err := newIsolation(opts)
	if err != nil {
		return nil, err
	}
	base := opts.BaseDir
	if base == "" {
		b, err := workdir.Base()
		if err != nil {
			return nil, err
		}
		base = b
		if iso.root {
			base = filepath.Join(b, "process")
		}
	}
	if err := os.MkdirAll(base, 0o700); err != nil {
		return nil, err
	}
	if iso.root {
		// Programs run under their own uids: they must be able to enter
		// the base (not list it) to reach their own 0700 work dirs.
		if err := os.Chmod(base, 0o711); err != nil {
			return nil, err
		}
	}
	if n, err := workdir.Sweep(base); err != nil {
		opts.Logger.Warn("sweeping stale work dirs", "err", err)
	} else if n > 0 {
		opts.Logger.Info("removed stale work dirs", "count", n)
	}
	iso.sweep()
	return &Backend{opts: opts, base: base, iso: iso}, nil
}

// Close releases the tier's filesystem view.
func (b *Backend) Close() error {
	b.iso.close()
	return nil
}

// need is what a program of language l must reach: its interpreter, the
// runtime paths and the work dirs.
func (b *Backend) need(l *lang.Language) []string {
	return append([]string{l.Interpreter, b.base}, l.Paths...)
}

// Name implements sandrun.Backend.
func (b *Backend) Name() string { return Name }

// Check implements sandrun.Backend.
func (b *Backend) Check(ctx context.Context, language string) error {
	if err := platformCheck(); err != nil {
		return err
	}
	_, err := b.opts.Languages.Lookup(ctx, language)
	return err
}

// Run implements sandrun.Backend.
func (b *Backend) Run(ctx context.Context, req *sandrun.Request) (*sandrun.Result, error) {
	l, err := b.opts.Languages.Lookup(ctx, req.Language)
	if err != nil {
		return nil, err
	}
	dir, err := workdir.Make(b.base)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := workdir.Remove(dir); err != nil {
			b.opts.Logger.Error("removing work dir", "dir", dir, "err", err)
		}
	}()
	if err := workdir.WriteFiles(dir, req.Files, 0o600); err != nil {
		return nil, fmt.Errorf("writing request files: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, l.FileName), []byte(req.Code), 0o600); err != nil {
		return nil, fmt.Errorf("writing code: %w", err)
	}
	tmp := filepath.Join(dir, ".tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return nil, err
	}
	id, err := b.iso.acquire(req.Limits, b.need(l))
	if err != nil {
		return nil, fmt.Errorf("process tier isolation: %w", err)
	}
	defer id.release()
	if err := id.chown(dir); err != nil {
		return nil, fmt.Errorf("giving the work dir to the run's uid: %w", err)
	}

	argv := l.Command(l.FileName, int64(req.Limits.Memory), req.Args)
	if req.Language == lang.Python && len(b.opts.BlockedModules) > 0 {
		argv = pythonWithHook(argv, l.FileName, b.opts.BlockedModules)
	}
	res := &sandrun.Result{}
	if id.warn != "" {
		res.Warnings = append(res.Warnings, id.warn)
	}
	err = b.exec(ctx, req, l, dir, argv, buildEnv(dir, tmp, l, req), id, res)
	if err != nil {
		return nil, err
	}
	if len(req.Collect) > 0 {
		files, err := workdir.Collect(dir, req.Collect, workdir.CollectLimits{MaxFile: int64(req.Limits.Output)})
		if err != nil {
			return nil, fmt.Errorf("collecting files: %w", err)
		}
		res.Files = files
	}
	return res, nil
}

// buildEnv is the whole environment: nothing of the supervisor's leaks.
func buildEnv(dir, tmp string, l *lang.Language, req *sandrun.Request) []string {
	env := map[string]string{
		"PATH":   "/usr/local/bin:/usr/bin:/bin",
		"HOME":   dir,
		"LANG":   "C.UTF-8",
		"TMPDIR": tmp,
	}
	for k, v := range l.Env {
		env[k] = v
	}
	for k, v := range req.Env {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

func (b *Backend) exec(ctx context.Context, req *sandrun.Request, l *lang.Language, dir string, argv []string, env []string, id *identity, res *sandrun.Result) error {
	lim := req.Limits
	var (
		killed verdict.KillRecord
		mu     sync.Mutex // guards pgid
		pgid   int
	)
	kill := func(why verdict.Kill, s string) {
		killed.Set(why, s)
		mu.Lock()
		defer mu.Unlock()
		if pgid > 0 {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			id.kill()
		}
	}
	stdout := capture.New("stdout", int64(lim.Output), req.OnOutput, func() { kill(verdict.KillOutput, "stdout") })
	stderr := capture.New("stderr", int64(lim.Output), req.OnOutput, func() { kill(verdict.KillOutput, "stderr") })

	stdin, closeStdin, err := stdinFor(req)
	if err != nil {
		return err
	}
	defer closeStdin()
	cmd := &exec.Cmd{
		Path:   argv[0],
		Args:   argv,
		Env:    env,
		Dir:    dir,
		Stdin:  stdin,
		Stdout: stdout,
		Stderr: stderr,
		// A daemonized grandchild may hold the pipes open after the
		// program exits; stop waiting for them after this long.
		WaitDelay: time.Second,
	}
	start := time.Now()
	pid, letGo, err := startLimited(cmd, lim, l.AddressSpaceLimit, id)
	if err != nil {
		return err
	}
	defer letGo()
	mu.Lock()
	pgid = pid // setsid: the program leads its own session and group
	mu.Unlock()

	timer := time.AfterFunc(lim.WallTime.D(), func() { kill(verdict.KillTimeout, "") })
	stopCtx := context.AfterFunc(ctx, func() { kill(verdict.KillCancel, "") })
	sigDone := make(chan struct{})
	go req.ForwardSignals(sigDone, func(sig os.Signal) {
		if s, ok := sig.(syscall.Signal); ok {
			_ = syscall.Kill(-pid, s)
		}
	})
	waitErr := cmd.Wait()
	close(sigDone)
	wall := time.Since(start)
	timer.Stop()
	stopCtx()
	// Whatever the outcome, nothing of the group (or, with a cgroup, of
	// the run: a setsid grandchild too) outlives the run.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	id.kill()

	ps := cmd.ProcessState
	if ps == nil {
		return fmt.Errorf("waiting for the program: %w", waitErr)
	}
	ws, _ := ps.Sys().(syscall.WaitStatus)
	ru, _ := ps.SysUsage().(*syscall.Rusage)
	f := verdict.Facts{
		Exited:     ws.Exited(),
		ExitCode:   ws.ExitStatus(),
		Signal:     signalOf(ws),
		Limits:     lim,
		OOMMarkers: l.OOMMarkers,
		CPU:        ps.UserTime() + ps.SystemTime(),
	}
	killed.Fill(&f)
	res.Stdout, res.Stderr = stdout.Text(), stderr.Text()
	res.StdoutTruncated, res.StderrTruncated = stdout.Overflowed(), stderr.Overflowed()
	f.Stderr = string(stderr.Bytes())
	var peak int64
	if ru != nil {
		peak = ru.Maxrss * 1024
	}
	if cpu, gpeak, oom, ok := id.groupStats(); ok {
		// The cgroup counts every process of the run, not only the
		// program and the children it waited for.
		f.CPU, peak, f.OOMKilled = max(f.CPU, cpu), max(peak, gpeak), oom
	}
	verdict.Decide(f, res)
	res.Usage = sandrun.Usage{WallMs: wall.Milliseconds(), CPUMs: f.CPU.Milliseconds(), MemoryPeakBytes: peak}
	return nil
}

func signalOf(ws syscall.WaitStatus) syscall.Signal {
	if ws.Signaled() {
		return ws.Signal()
	}
	return 0
}

// RunsInteractive implements sandrun.Interactive: the tier feeds
// Request.Input as it comes and signals the program's process group.
func (b *Backend) RunsInteractive() error { return nil }

// stdinFor is the program's standard input. An interactive run gets a
// pipe fed from Request.Input as it comes (exec.Cmd would otherwise wait,
// after the program's end, for a copy blocked on input that never ends);
// the program holds the read end, and the copy ends when the input does
// or, after the run, at the first write to a pipe nobody reads.
func stdinFor(req *sandrun.Request) (io.Reader, func(), error) {
	if req.Input == nil {
		return strings.NewReader(req.Stdin), func() {}, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("stdin pipe: %w", err)
	}
	go func() {
		_, _ = io.Copy(w, req.StdinReader())
		w.Close()
	}()
	return r, func() { r.Close() }, nil
}
