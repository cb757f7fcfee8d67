// Package gvisor is the zero-trust tier: every run is a fresh gVisor
// sandbox (runsc, a user-space kernel between the program and the host)
// started from an OCI bundle made for the run. The root filesystem is a
// read-only skeleton with the host's runtime paths for the language bound
// read-only into it (as the jail does); /work is a size-capped tmpfs made
// on the host for the run and bound in, /tmp a size-capped tmpfs inside
// the sandbox; there is no network; the limits are the jail's: memory and
// pids through runsc's cgroup, CPU time, file size, open files and core
// size as rlimits that the gVisor kernel enforces, the wall clock and the
// output caps by the supervisor.
package gvisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/workdir"
	"github.com/sandrun/sandrun/lang"
)

// Name is the tier's name.
const Name = "gvisor"

// Options configure the backend.
type Options struct {
	Languages *lang.Registry
	// Runsc is the runsc binary; empty means "runsc" in PATH.
	Runsc string
	// Platform forces a gVisor platform; empty picks the best this host
	// supports: systrap, else ptrace.
	Platform string
	// BaseDir holds the per-run bundles and work directories (nothing
	// else: each run removes its own); empty means a directory under
	// workdir.Base().
	BaseDir string
	// StateDir holds runsc's state (--root) and the read-only root
	// skeletons shared by runs; empty means a directory under
	// workdir.Base().
	StateDir string
	// MemoryOverhead is added to the memory limit of the sandbox's cgroup
	// for gVisor's own kernel (the sentry) and file proxy (the gofer);
	// default 96MiB. The program alone is held to Limits.Memory by the
	// gVisor kernel's own accounting.
	MemoryOverhead sandrun.Bytes
	Logger         *slog.Logger
}

// Backend is the gvisor tier. It is safe for concurrent use.
type Backend struct {
	opts Options

	once     sync.Once
	initErr  error
	dirOnce  sync.Once
	dirErr   error
	runsc    string
	version  string
	platform string
	base     string // per-run directories
	state    string // runsc --root
	shared   string // root skeletons
}

var (
	_ sandrun.Backend   = (*Backend)(nil)
	_ sandrun.Diagnoser = (*Backend)(nil)
)

// New returns the backend. It never fails when runsc is missing: Check
// says so instead.
func New(opts Options) *Backend {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MemoryOverhead == 0 {
		opts.MemoryOverhead = 96 << 20
	}
	return &Backend{opts: opts}
}

// Name implements sandrun.Backend.
func (b *Backend) Name() string { return Name }

// init finds runsc, picks the platform, prepares the directories and
// sweeps what a crashed supervisor left; once.
func (b *Backend) init(ctx context.Context) error {
	b.once.Do(func() { b.initErr = b.setup(ctx) })
	return b.initErr
}

func (b *Backend) setup(ctx context.Context) error {
	if b.opts.Languages == nil {
		return errors.New("gvisor: no language registry")
	}
	if err := platformCheck(); err != nil {
		return err
	}
	exe := b.opts.Runsc
	if exe == "" {
		exe = "runsc"
	}
	p, err := exec.LookPath(exe)
	if err != nil {
		return fmt.Errorf("runsc is not installed (apt-get install runsc): %w", err)
	}
	b.runsc = p
	out, err := exec.CommandContext(ctx, p, "--version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("runsc --version: %w: %s", err, bytes.TrimSpace(out))
	}
	b.version = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	b.platform = b.opts.Platform
	if b.platform == "" {
		b.platform = bestPlatform(ctx, p)
	}
	if err := b.resolveDirs(); err != nil {
		return err
	}
	if n := b.sweep(ctx); n > 0 {
		b.opts.Logger.Info("removed stale gvisor sandboxes", "count", n)
	}
	return nil
}

// resolveDirs sets and makes the tier's directories, once.
func (b *Backend) resolveDirs() error {
	b.dirOnce.Do(func() {
		base, shared := b.opts.BaseDir, b.opts.StateDir
		if base == "" || shared == "" {
			wb, err := workdir.Base()
			if err != nil {
				b.dirErr = err
				return
			}
			if base == "" {
				base = filepath.Join(wb, "gvisor", "runs")
			}
			if shared == "" {
				shared = filepath.Join(wb, "gvisor")
			}
		}
		state := filepath.Join(shared, "state")
		for _, d := range []string{base, state} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				b.dirErr = fmt.Errorf("gvisor: %w", err)
				return
			}
		}
		b.base, b.shared, b.state = base, shared, state
	})
	return b.dirErr
}

// Sweep removes what supervisors that died left: their sandboxes'
// processes (killed through the runs' cgroups), runsc's state, the /work
// mounts, bundles and cgroups. It runs at the tier's first use too; call
// it at start so a crash's leftovers do not wait for that. It needs root
// (the tier does), not runsc: without runsc the state files are removed
// directly.
func (b *Backend) Sweep(ctx context.Context) int {
	if platformCheck() != nil || b.resolveDirs() != nil {
		return 0
	}
	return b.sweep(ctx)
}

// bestPlatform is systrap when this runsc has it (newer releases), else
// ptrace, which works everywhere; kvm needs /dev/kvm and nested
// virtualisation, which these VMs do not offer.
func bestPlatform(ctx context.Context, runsc string) string {
	out, _ := exec.CommandContext(ctx, runsc, "flags").CombinedOutput()
	if bytes.Contains(out, []byte("systrap")) {
		return "systrap"
	}
	return "ptrace"
}

// Check implements sandrun.Backend.
func (b *Backend) Check(ctx context.Context, language string) error {
	if err := b.init(ctx); err != nil {
		return err
	}
	_, err := b.opts.Languages.Lookup(ctx, language)
	return err
}

// Diagnose implements sandrun.Diagnoser: runsc's presence and version,
// the platform, and one real sandbox run.
func (b *Backend) Diagnose(ctx context.Context) []sandrun.Diagnostic {
	if err := b.init(ctx); err != nil {
		return []sandrun.Diagnostic{{Name: "gvisor: runsc", OK: false, Detail: err.Error()}}
	}
	out := []sandrun.Diagnostic{
		{Name: "gvisor: runsc", OK: true, Detail: fmt.Sprintf("%s (%s)", b.runsc, b.version)},
		{Name: "gvisor: platform", OK: true, Detail: b.platform},
	}
	d := sandrun.Diagnostic{Name: "gvisor: sandbox run", OK: true}
	t0 := time.Now()
	res, err := b.Run(ctx, &sandrun.Request{Language: lang.Bash, Code: "echo ok", Limits: sandrun.DefaultLimits()})
	switch {
	case err != nil:
		d.OK, d.Detail = false, err.Error()
	case res.Status != sandrun.StatusOK || strings.TrimSpace(res.Stdout) != "ok":
		d.OK, d.Detail = false, fmt.Sprintf("status %s: %s %s", res.Status, res.Error, strings.TrimSpace(res.Stderr))
	default:
		d.Detail = fmt.Sprintf("bash ran in a sandbox in %s", time.Since(t0).Round(time.Millisecond))
	}
	return append(out, d)
}

// Platform returns the platform runs use ("" before the first Check).
func (b *Backend) Platform() string { return b.platform }

// Runsc returns the runsc binary in use ("" before the first Check).
func (b *Backend) Runsc() string { return b.runsc }
