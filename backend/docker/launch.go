package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/verdict"
	"golang.org/x/sys/unix"
)

var _ sandrun.Launcher = (*Backend)(nil)

// Launch implements sandrun.Launcher: a long-lived container with every
// protection of a one-shot run, whose stdin, stdout and stderr the caller
// drives (sessions, warm pools). spec.Args follow the language's
// interpreter in the image; spec.Files are unpacked into /work before the
// interpreter starts. WallTime is the container's maximum lifetime.
func (b *Backend) Launch(ctx context.Context, spec *sandrun.LaunchSpec) (sandrun.Launched, error) {
	r, ok := RecipeFor(spec.Language)
	if !ok {
		return nil, fmt.Errorf("the docker tier cannot run %q", spec.Language)
	}
	cli, err := b.client(ctx)
	if err != nil {
		return nil, err
	}
	if err := spec.Limits.Resolved(); err != nil {
		return nil, err
	}
	req := &sandrun.Request{Language: spec.Language, Files: spec.Files, Env: spec.Env, Limits: spec.Limits, Network: spec.Network}
	// The boot archive needs a code file; a launched interpreter gets its
	// program through Args, so the file is an empty placeholder.
	payload, err := bootPayload(Recipe{FileName: ".sandrun-launch"}, req)
	if err != nil {
		return nil, err
	}
	runID := sandrun.NewID()
	cfg, hc := b.containerConfig(r, req, runID, true, "")
	cfg.Cmd = append(append(cfg.Cmd[:4:4], r.Argv[0]), spec.Args...)
	// A network allowlist holds for the container's whole life: its proxy
	// opens in the container's namespace after the start and before the
	// boot payload, which the boot script waits for.
	nr, err := b.networkFor(req, cfg, hc)
	if err != nil {
		return nil, err
	}
	w, err := b.watcher(ctx, cli)
	if err != nil {
		return nil, err
	}
	created, err := cli.ContainerCreate(ctx, cfg, hc, nil, nil, "sandrun-"+runID[:16])
	if err != nil {
		return nil, fmt.Errorf("creating the container: %w", err)
	}
	l := &launched{b: b, cli: cli, id: created.ID, w: w, lim: req.Limits, recipe: r, done: make(chan struct{})}
	l.exit = w.register(l.id)
	fail := func(err error) (sandrun.Launched, error) {
		w.unregister(l.id)
		b.remove(cli, l.id)
		return nil, err
	}
	hj, err := cli.ContainerAttach(ctx, l.id, container.AttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		return fail(fmt.Errorf("attaching to the container: %w", err))
	}
	l.hj = hj
	l.stdout, l.stderr = newStreamBuf(streamBufSize), newStreamBuf(streamBufSize)
	l.copied = make(chan struct{})
	go func() {
		_, err := stdcopy.StdCopy(l.stdout, l.stderr, hj.Reader)
		l.endStreams(err)
		close(l.copied)
	}()
	send := func() error {
		if _, err := hj.Conn.Write(payload); err != nil {
			return fmt.Errorf("sending the boot archive: %w", err)
		}
		return nil
	}
	if nr == nil {
		if err := send(); err != nil {
			hj.Close()
			return fail(err)
		}
	}
	l.started = time.Now()
	if err := cli.ContainerStart(ctx, l.id, container.StartOptions{}); err != nil {
		hj.Close()
		return fail(fmt.Errorf("starting the container: %w", err))
	}
	if nr != nil {
		l.net = nr
		err := nr.start(ctx, cli, l.id, b, func(what string) { go l.kill(verdict.KillNetwork, what) })
		if err == nil {
			err = send()
		}
		if err != nil {
			hj.Close()
			nr.stop()
			return fail(err)
		}
	}
	l.timer = time.AfterFunc(l.lim.WallTime.D(), func() { l.kill(verdict.KillTimeout, "") })
	// Once the container has died, its streams end within a grace period
	// whether or not the engine ends the attach stream (it need not for
	// an auto-removed container) and whether or not the caller reads
	// them: a reader of either stream then sees EOF instead of blocking.
	go func() {
		select {
		case <-l.exit.died:
		case <-l.copied:
			return
		}
		select {
		case <-l.copied:
		case <-time.After(2 * time.Second):
			l.hj.Close()
			l.endStreams(nil)
		}
	}()
	return l, nil
}

// launched is one long-lived container.
type launched struct {
	b       *Backend
	cli     *client.Client
	id      string
	w       *exitWatcher
	exit    *exitInfo
	hj      types.HijackedResponse
	stdout  *streamBuf
	stderr  *streamBuf
	copied  chan struct{}
	lim     sandrun.Limits
	recipe  Recipe
	started time.Time
	timer   *time.Timer

	// net is the proxy of a container with a network allowlist (nil:
	// none).
	net *netRun

	// killed is why the container was killed, with the network cap that
	// was hit for KillNetwork.
	killed verdict.KillRecord

	mu sync.Mutex // guards lim

	waitOnce sync.Once
	done     chan struct{}
	result   *sandrun.LaunchExit
	err      error
}

// endStreams ends both output streams: the demultiplexer stops (a write
// it is blocked in fails) and readers get what is buffered, then EOF.
func (l *launched) endStreams(err error) {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		err = io.EOF
	}
	l.stdout.CloseWithError(err)
	l.stderr.CloseWithError(err)
}

func (l *launched) Stdin() io.Writer  { return stdinWriter{l} }
func (l *launched) Stdout() io.Reader { return l.stdout }
func (l *launched) Stderr() io.Reader { return l.stderr }
func (l *launched) WorkDir() string   { return "" } // /work lives in the container only

// UsageSoFar implements sandrun.UsageReporter: the proxy's record since
// the launch (nil without a network allowlist); CPU and memory are not
// measured here.
func (l *launched) UsageSoFar() sandrun.Usage {
	if l.net == nil || l.net.proxy == nil {
		return sandrun.Usage{}
	}
	return sandrun.Usage{Network: l.net.proxy.Usage()}
}

// stdinWriter writes to the container's stdin; Close half-closes it.
type stdinWriter struct{ l *launched }

func (s stdinWriter) Write(p []byte) (int, error) { return s.l.hj.Conn.Write(p) }
func (s stdinWriter) Close() error                { return s.l.hj.CloseWrite() }

// Signal sends sig to the program (pid 1 of the container).
func (l *launched) Signal(sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("unsupported signal %v", sig)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return l.cli.ContainerKill(ctx, l.id, strings.TrimPrefix(unix.SignalName(s), "SIG"))
}

// SetLimits tightens memory (swap equal) and pids through the engine's
// update. The rlimits (CPU time, file size, open files) are fixed when the
// container starts: asking to change them fails, and the caller should
// launch a fresh container instead.
func (l *launched) SetLimits(n sandrun.Limits) error {
	if err := n.Resolved(); err != nil {
		return err
	}
	var fixed []string
	if n.CPUTime != l.lim.CPUTime {
		fixed = append(fixed, "cpu_time")
	}
	if n.FileSize != l.lim.FileSize {
		fixed = append(fixed, "file_size")
	}
	if n.OpenFiles != l.lim.OpenFiles {
		fixed = append(fixed, "open_files")
	}
	if n.WorkDir != l.lim.WorkDir {
		fixed = append(fixed, "work_dir")
	}
	if len(fixed) > 0 {
		return fmt.Errorf("docker: %s cannot change on a running container", strings.Join(fixed, ", "))
	}
	pids := int64(n.Processes)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := l.cli.ContainerUpdate(ctx, l.id, container.UpdateConfig{Resources: container.Resources{
		Memory: int64(n.Memory), MemorySwap: int64(n.Memory), PidsLimit: &pids,
	}})
	if err != nil {
		return fmt.Errorf("docker update: %w", err)
	}
	l.mu.Lock()
	l.lim.Memory, l.lim.Processes = n.Memory, n.Processes
	l.mu.Unlock()
	if n.WallTime < l.lim.WallTime {
		left := n.WallTime.D() - time.Since(l.started)
		l.timer.Reset(max(left, 0))
	}
	return nil
}

// Kill ends the container; Wait then returns.
func (l *launched) Kill() error { l.kill(verdict.KillCancel, ""); return nil }

func (l *launched) kill(why verdict.Kill, detail string) {
	l.killed.Set(why, detail)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.cli.ContainerKill(ctx, l.id, "KILL"); err != nil && !cerrdefs.IsNotFound(err) && !strings.Contains(err.Error(), "is not running") {
		l.b.opts.Logger.Warn("killing container", "id", l.id, "err", err)
	}
}

// Wait waits for the container's end and reports it.
func (l *launched) Wait() (*sandrun.LaunchExit, error) {
	l.waitOnce.Do(func() {
		defer close(l.done)
		defer l.w.unregister(l.id)
		ctx := context.Background()
		oom, code, err := l.w.wait(ctx, l.exit)
		l.timer.Stop()
		wall := time.Since(l.started)
		select {
		case <-l.copied:
		case <-time.After(2 * time.Second):
		}
		l.hj.Close()
		netUsage := l.net.stop()
		l.endStreams(nil)
		if err != nil {
			l.err = err
			l.b.remove(l.cli, l.id)
			return
		}
		f := verdict.Facts{Exited: true, ExitCode: code, Limits: l.lim, OOMKilled: oom, OOMMarkers: l.recipe.OOMMarkers}
		if sig := syscall.Signal(code - 128); code > 128 && (sig == syscall.SIGKILL || sig == syscall.SIGXCPU || sig == syscall.SIGXFSZ || sig == syscall.SIGINT || sig == syscall.SIGTERM || sig == syscall.SIGSEGV || sig == syscall.SIGABRT) {
			f.Exited, f.ExitCode, f.Signal = false, -1, sig
		}
		l.killed.Fill(&f)
		var res sandrun.Result
		verdict.Decide(f, &res)
		l.result = &sandrun.LaunchExit{Status: res.Status, ExitCode: res.ExitCode, Signal: res.Signal, Error: res.Error,
			Usage: sandrun.Usage{WallMs: wall.Milliseconds(), Network: netUsage}}
	})
	<-l.done
	if l.err != nil {
		return nil, l.err
	}
	if l.result == nil {
		return nil, errors.New("docker: launched container ended without a result")
	}
	return l.result, nil
}
