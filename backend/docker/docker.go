// Package docker is the container tier: every run is a fresh container
// created through the Docker Engine API (never the CLI) with the seed's
// hardening as API fields: no network, read-only root, size-capped tmpfs
// /tmp and /work, all capabilities dropped, no-new-privileges, Docker's
// default seccomp profile, user nobody, memory with swap equal to memory,
// CPU quota, pids limit, ulimits, private IPC, and no host mounts. Code and
// files go in over the attach stream (stdin), output files come back with
// CopyFromContainer.
//
// Speed comes from keeping the engine connection warm: one client and one
// events subscription per Backend, attach before start, and no wait
// request: the container's exit (and an OOM kill) arrive on the events
// stream that is already open.
package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/client"
	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/cgmeter"
	"github.com/sandrun/sandrun/internal/seccompprofile"
	"github.com/sandrun/sandrun/netpolicy"
)

// Name is the tier's name.
const Name = "docker"

// Labels every container of this tier carries. The sweep removes only
// containers with LabelBackend=docker whose LabelOwner process is gone.
const (
	LabelBackend = "io.sandrun.backend"
	LabelOwner   = "io.sandrun.owner" // "<hostname>:<pid>" of the supervisor
	LabelRun     = "io.sandrun.run"
)

// Options configure the backend.
type Options struct {
	// Host is the engine address; empty means $DOCKER_HOST or the default
	// unix socket.
	Host string
	// Images maps a language to its image; missing languages take
	// DefaultImage(language).
	Images map[string]string
	// StopTimeout is how long the engine waits after SIGTERM before
	// SIGKILL when a container is stopped; default 1s.
	StopTimeout time.Duration
	// CPUs is the CPU quota in CPUs (--cpus); default 1.
	CPUs float64
	// Logger receives operational logs.
	Logger *slog.Logger
	// Network is what the operator permits runs to reach through the
	// proxy (network.go); nil permits no network.
	Network *netpolicy.Operator
}

// Backend is the docker tier. It is safe for concurrent use.
type Backend struct {
	opts  Options
	owner string

	initMu   sync.Mutex
	cli      *client.Client
	initErr  error
	initTime time.Time // of the last failed attempt

	evMu   sync.Mutex
	events *exitWatcher

	meterOnce sync.Once
	meter     *cgmeter.Meter

	// seccomp is the engine's seccomp option value: the hardened profile
	// as JSON, made once.
	seccomp    string
	seccompErr error
	// seccompNet is the profile of runs with a network allowlist: the
	// same, plus IPv4 TCP sockets (network.go).
	seccompNet string

	checkMu   sync.Mutex
	checkedAt time.Time
	checkErr  error
	images    map[string]error // per image: nil when present
}

var (
	_ sandrun.Backend   = (*Backend)(nil)
	_ sandrun.Diagnoser = (*Backend)(nil)
)

// New returns the backend. It never fails because the engine is absent:
// Check reports that instead, so that the app still starts on hosts
// without Docker.
func New(opts Options) *Backend {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = time.Second
	}
	if opts.CPUs == 0 {
		opts.CPUs = 1
	}
	host, _ := os.Hostname()
	b := &Backend{opts: opts, owner: fmt.Sprintf("%s:%d", host, os.Getpid()), images: map[string]error{}}
	b.seccomp, b.seccompErr = seccompprofile.JSON(seccompprofile.Options{})
	if b.seccompErr == nil {
		b.seccompNet, b.seccompErr = seccompprofile.JSON(seccompprofile.Options{InetStream: true})
	}
	return b
}

// Name implements sandrun.Backend.
func (b *Backend) Name() string { return Name }

// Image returns the image used for language.
func (b *Backend) Image(language string) string {
	if im, ok := b.opts.Images[language]; ok && im != "" {
		return im
	}
	return DefaultImage(language)
}

// client returns the shared engine client, creating it (and sweeping the
// containers an earlier crash left) on first use. A failure is retried
// after a few seconds: dockerd may start after sandrun.
func (b *Backend) client(ctx context.Context) (*client.Client, error) {
	b.initMu.Lock()
	defer b.initMu.Unlock()
	if b.cli != nil {
		return b.cli, nil
	}
	if b.initErr != nil && time.Since(b.initTime) < 5*time.Second {
		return nil, b.initErr
	}
	b.initErr = nil
	func() {
		opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
		if b.opts.Host != "" {
			opts = append(opts, client.WithHost(b.opts.Host))
		}
		c, err := client.NewClientWithOpts(opts...)
		if err != nil {
			b.initErr = fmt.Errorf("docker client: %w", err)
			b.initTime = time.Now()
			return
		}
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if _, err := c.Ping(pctx); err != nil {
			c.Close()
			b.initErr = fmt.Errorf("dockerd is not reachable: %w", err)
			b.initTime = time.Now()
			return
		}
		b.cli = c
		if n, err := sweep(pctx, c, b.owner); err != nil {
			b.opts.Logger.Warn("sweeping stale containers", "err", err)
		} else if n > 0 {
			b.opts.Logger.Info("removed stale containers", "count", n)
		}
	}()
	if b.initErr != nil {
		return nil, b.initErr
	}
	return b.cli, nil
}

// Sweep removes what supervisors that died on this host left: their
// containers (running ones too) and their runs' cgroups. It runs when the
// engine is first reached; call it at start so that a crash's leftovers
// do not wait for the tier's next use. Without an engine there is nothing
// to sweep: the error says why.
func (b *Backend) Sweep(ctx context.Context) error {
	cli, err := b.client(ctx) // sweeps the containers the first time
	if err != nil {
		return err
	}
	b.meterFor(ctx, cli) // sweeps the cgroups the first time
	return nil
}

// Check implements sandrun.Backend: the engine answers, applies seccomp,
// and has the language's image. The answer is cached for a few seconds
// so that auto does not cost a round trip per run.
func (b *Backend) Check(ctx context.Context, language string) error {
	if !sandrun.IsKnownLanguage(language) || DefaultImage(language) == "" {
		return sandrun.Unsupported(fmt.Sprintf("the docker tier has no image recipe for %q", language))
	}
	if b.seccompErr != nil {
		return fmt.Errorf("seccomp profile: %w", b.seccompErr)
	}
	cli, err := b.client(ctx)
	if err != nil {
		return err
	}
	b.checkMu.Lock()
	defer b.checkMu.Unlock()
	if time.Since(b.checkedAt) > 10*time.Second {
		b.checkErr = b.checkEngine(ctx, cli)
		b.checkedAt = time.Now()
		b.images = map[string]error{}
	}
	if b.checkErr != nil {
		return b.checkErr
	}
	im := b.Image(language)
	ierr, ok := b.images[im]
	if !ok {
		if _, err := cli.ImageInspect(ctx, im); err != nil {
			ierr = fmt.Errorf("image %s is missing (build it with: sandrun image build %s): %w", im, language, err)
		}
		b.images[im] = ierr
	}
	return ierr
}

// checkEngine fails closed when the engine would not apply a protection
// this tier promises.
func (b *Backend) checkEngine(ctx context.Context, cli *client.Client) error {
	info, err := cli.Info(ctx)
	if err != nil {
		return fmt.Errorf("docker info: %w", err)
	}
	if info.OSType != "" && info.OSType != "linux" {
		return fmt.Errorf("dockerd runs %s containers; the docker tier needs linux", info.OSType)
	}
	seccomp := false
	for _, o := range info.SecurityOptions {
		if strings.Contains(o, "name=seccomp") {
			seccomp = true
		}
	}
	if !seccomp {
		return errors.New("dockerd does not apply seccomp profiles (no name=seccomp in its security options)")
	}
	return nil
}

// Diagnose implements sandrun.Diagnoser.
func (b *Backend) Diagnose(ctx context.Context) []sandrun.Diagnostic {
	var out []sandrun.Diagnostic
	cli, err := b.client(ctx)
	if err != nil {
		return append(out, sandrun.Diagnostic{Name: "docker: dockerd", OK: false, Detail: err.Error()})
	}
	v, err := cli.ServerVersion(ctx)
	if err != nil {
		return append(out, sandrun.Diagnostic{Name: "docker: dockerd", OK: false, Detail: err.Error()})
	}
	out = append(out, sandrun.Diagnostic{Name: "docker: dockerd", OK: true,
		Detail: fmt.Sprintf("reachable at %s, version %s (API %s)", cli.DaemonHost(), v.Version, v.APIVersion)})
	err = b.checkEngine(ctx, cli)
	out = append(out, sandrun.Diagnostic{Name: "docker: seccomp", OK: err == nil, Detail: errText(err, "dockerd applies its default seccomp profile")})
	for _, l := range ImageLanguages() {
		im := b.Image(l)
		_, err := cli.ImageInspect(ctx, im)
		d := sandrun.Diagnostic{Name: "docker: image " + l, OK: err == nil, Detail: im}
		if err != nil {
			d.Detail = fmt.Sprintf("%s missing: run `sandrun image build %s`", im, l)
		}
		out = append(out, d)
	}
	return out
}

func errText(err error, ok string) string {
	if err != nil {
		return err.Error()
	}
	return ok
}

// Close stops the events subscription and closes the engine connection.
func (b *Backend) Close() error {
	b.evMu.Lock()
	if b.events != nil {
		b.events.close()
		b.events = nil
	}
	b.evMu.Unlock()
	b.initMu.Lock()
	defer b.initMu.Unlock()
	if b.cli != nil {
		err := b.cli.Close()
		b.cli = nil
		return err
	}
	return nil
}
