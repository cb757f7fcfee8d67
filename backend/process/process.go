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
	Logger         *slog.Logger
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
}

var _ sandrun.Backend = (*Backend)(nil)

// New returns the backend and sweeps work directories left by dead
// supervisors.
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
	base := opts.BaseDir
	if base == "" {
		b, err := workdir.Base()
		if err != nil {
			return nil, err
		}
		base = b
	} else if err := os.MkdirAll(base, 0o700); err != nil {
		return nil, err
	}
	if n, err := workdir.Sweep(base); err != nil {
		opts.Logger.Warn("sweeping stale work dirs", "err", err)
	} else if n > 0 {
		opts.Logger.Info("removed stale work dirs", "count", n)
	}
	return &Backend{opts: opts, base: base}, nil
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

	argv := l.Command(l.FileName, int64(req.Limits.Memory), req.Args)
	if req.Language == lang.Python && len(b.opts.BlockedModules) > 0 {
		argv = pythonWithHook(argv, l.FileName, b.opts.BlockedModules)
	}
	res := &sandrun.Result{}
	if os.Geteuid() == 0 {
		res.Warnings = append(res.Warnings, "process tier running as root: the processes limit (RLIMIT_NPROC) does not bind root; use the jail tier for untrusted code")
	}
	err = b.exec(ctx, req, l, dir, argv, buildEnv(dir, tmp, l, req), res)
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

func (b *Backend) exec(ctx context.Context, req *sandrun.Request, l *lang.Language, dir string, argv []string, env []string, res *sandrun.Result) error {
	lim := req.Limits
	var (
		mu     sync.Mutex
		killed verdict.Kill
		stream string
		pgid   int
	)
	kill := func(why verdict.Kill, s string) {
		mu.Lock()
		defer mu.Unlock()
		if killed == verdict.KillNone {
			killed, stream = why, s
		}
		if pgid > 0 {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
	}
	stdout := capture.New("stdout", int64(lim.Output), req.OnOutput, func() { kill(verdict.KillOutput, "stdout") })
	stderr := capture.New("stderr", int64(lim.Output), req.OnOutput, func() { kill(verdict.KillOutput, "stderr") })

	cmd := &exec.Cmd{
		Path:   argv[0],
		Args:   argv,
		Env:    env,
		Dir:    dir,
		Stdin:  strings.NewReader(req.Stdin),
		Stdout: stdout,
		Stderr: stderr,
		// A daemonized grandchild may hold the pipes open after the
		// program exits; stop waiting for them after this long.
		WaitDelay: time.Second,
	}
	start := time.Now()
	pid, err := startLimited(cmd, lim, l.AddressSpaceLimit)
	if err != nil {
		return err
	}
	mu.Lock()
	pgid = pid // setsid: the program leads its own session and group
	mu.Unlock()

	timer := time.AfterFunc(lim.WallTime.D(), func() { kill(verdict.KillTimeout, "") })
	stopCtx := context.AfterFunc(ctx, func() { kill(verdict.KillCancel, "") })
	waitErr := cmd.Wait()
	wall := time.Since(start)
	timer.Stop()
	stopCtx()
	// Whatever the outcome, nothing of the group outlives the run.
	_ = syscall.Kill(-pid, syscall.SIGKILL)

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
	mu.Lock()
	f.Killed, f.Stream = killed, stream
	mu.Unlock()
	res.Stdout, res.Stderr = stdout.Text(), stderr.Text()
	res.StdoutTruncated, res.StderrTruncated = stdout.Overflowed(), stderr.Overflowed()
	f.Stderr = string(stderr.Bytes())
	verdict.Decide(f, res)
	res.Usage = sandrun.Usage{WallMs: wall.Milliseconds(), CPUMs: f.CPU.Milliseconds()}
	if ru != nil {
		res.Usage.MemoryPeakBytes = ru.Maxrss * 1024
	}
	return nil
}

func signalOf(ws syscall.WaitStatus) syscall.Signal {
	if ws.Signaled() {
		return ws.Signal()
	}
	return 0
}
