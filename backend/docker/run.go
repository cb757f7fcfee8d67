package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/capture"
	"github.com/sandrun/sandrun/internal/cgmeter"
	"github.com/sandrun/sandrun/internal/cgroup"
	"github.com/sandrun/sandrun/internal/markstream"
	"github.com/sandrun/sandrun/internal/verdict"
)

// watcher returns the shared events subscription, (re)opening it when
// it is missing or broken.
func (b *Backend) watcher(ctx context.Context, cli *client.Client) (*exitWatcher, error) {
	b.evMu.Lock()
	defer b.evMu.Unlock()
	if b.events != nil && b.events.alive() {
		return b.events, nil
	}
	w, err := newExitWatcher(ctx, cli)
	if err != nil {
		return nil, err
	}
	b.events = w
	return w, nil
}

// Run implements sandrun.Backend.
//
// Round trips on the critical path: create, attach (one hijacked
// connection carrying stdin, stdout and stderr), start. The exit and any
// OOM kill arrive on the shared events stream; with auto-remove the
// engine deletes the container by itself.
func (b *Backend) Run(ctx context.Context, req *sandrun.Request) (*sandrun.Result, error) {
	r, ok := RecipeFor(req.Language)
	if !ok {
		return nil, fmt.Errorf("the docker tier cannot run %q", req.Language)
	}
	if b.seccompErr != nil {
		return nil, fmt.Errorf("seccomp profile: %w", b.seccompErr)
	}
	cli, err := b.client(ctx)
	if err != nil {
		return nil, err
	}
	payload, err := bootPayload(r, req)
	if err != nil {
		return nil, err
	}
	for _, g := range req.Collect {
		if _, err := path.Match(g, ""); err != nil {
			return nil, &sandrun.RequestError{Field: "collect", Msg: fmt.Sprintf("pattern %q: %v", g, err)}
		}
	}
	runID := sandrun.NewID()
	mark := ""
	if len(req.Collect) > 0 {
		mark = "<<sandrun-collect-" + sandrun.NewID() + ">>"
	}
	cfg, hc := b.containerConfig(r, req, runID, true, mark)
	nr, err := b.networkFor(req, cfg, hc)
	if err != nil {
		return nil, err
	}
	meter := b.meterFor(ctx, cli)
	// The run's parent cgroup carries the supervisor's pid, so that a
	// sweep by another supervisor leaves it alone while this one lives.
	cgName := fmt.Sprintf("%d-%s", os.Getpid(), runID)
	if meter != nil {
		hc.CgroupParent = meter.Parent(cgName)
		defer func() {
			if err := meter.Remove(cgName); err != nil {
				b.opts.Logger.Warn("removing run cgroup", "run", runID, "err", err)
			}
		}()
	}

	// The events subscription (warm after the first run) and the create
	// go out together.
	var (
		w      *exitWatcher
		wErr   error
		wReady = make(chan struct{})
	)
	go func() { w, wErr = b.watcher(ctx, cli); close(wReady) }()
	created, err := cli.ContainerCreate(ctx, cfg, hc, nil, nil, "sandrun-"+runID[:16])
	<-wReady
	if err != nil {
		return nil, fmt.Errorf("creating the container: %w", err)
	}
	id := created.ID
	// From here on the container exists: whatever happens, it goes.
	removeNeeded := true
	defer func() {
		if removeNeeded {
			b.remove(cli, id)
		}
	}()
	if wErr != nil {
		return nil, wErr
	}
	exit := w.register(id)
	defer w.unregister(id)

	hj, err := cli.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		return nil, fmt.Errorf("attaching to the container: %w", err)
	}
	defer hj.Close()

	lim := req.Limits
	var killed verdict.KillRecord
	kill := func(why verdict.Kill, detail string) {
		if killed.Set(why, detail) {
			if meter != nil {
				// Kill the container's processes right away through the
				// run's cgroup: the engine's kill comes hundreds of
				// milliseconds later under load. The engine's kill still
				// follows, and its exit event ends the run.
				meter.Kill(cgName)
			}
			kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := cli.ContainerKill(kctx, id, "KILL"); err != nil && !cerrdefs.IsNotFound(err) {
				b.opts.Logger.Warn("killing container", "id", id, "err", err)
			}
		}
	}
	stdout := capture.New("stdout", int64(lim.Output), req.OnOutput, func() { go kill(verdict.KillOutput, "stdout") })
	stderr := capture.New("stderr", int64(lim.Output), req.OnOutput, func() { go kill(verdict.KillOutput, "stderr") })
	var outW io.Writer = stdout
	var split *markstream.Splitter
	if mark != "" {
		split = &markstream.Splitter{Mark: []byte(mark), Out: stdout}
		outW = split
	}

	start := time.Now()
	if err := cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return nil, fmt.Errorf("starting the container: %w", err)
	}
	if nr != nil {
		// Before the payload: the program waits for it, so the proxy
		// listens before the program runs.
		err := nr.start(ctx, cli, id, b, func(what string) { go kill(verdict.KillNetwork, what) })
		if err != nil {
			kill(verdict.KillCancel, "")
			return nil, err
		}
		defer nr.stop()
	}
	timer := time.AfterFunc(lim.WallTime.D(), func() { kill(verdict.KillTimeout, "") })
	defer timer.Stop()
	stopCtx := context.AfterFunc(ctx, func() { kill(verdict.KillCancel, "") })
	defer stopCtx()
	if meter != nil {
		// RLIMIT_CPU binds each process alone; the cgroup counts them all.
		// A second of grace leaves the rlimit's SIGXCPU the first word.
		stopWatch := make(chan struct{})
		defer close(stopWatch)
		go meter.Watch(cgName, lim.CPUTime.D()+time.Second, stopWatch, func() { kill(verdict.KillCPU, "") })
	}

	go func() {
		// The program may never read its stdin; a blocked write must not
		// hold the run, and EPIPE is expected.
		_, _ = hj.Conn.Write(payload)
		_ = hj.CloseWrite()
	}()
	copyErr := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(outW, stderr, hj.Reader)
		copyErr <- err
	}()

	// The run's own context may be cancelled; the container's end must
	// still be awaited (the kill above makes it prompt).
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lim.WallTime.D()+30*time.Second)
	defer cancel()
	oom, code, err := w.wait(wctx, exit)
	wall := time.Since(start)
	if err != nil {
		kill(verdict.KillCancel, "")
		return nil, fmt.Errorf("waiting for the container: %w", err)
	}
	// The attach stream ends when the engine has flushed the output;
	// a detached grandchild cannot hold it open, the container is dead.
	select {
	case <-copyErr:
	case <-time.After(2 * time.Second):
		hj.Close()
		<-copyErr
	}

	res := &sandrun.Result{}
	if split != nil {
		split.Flush()
		files, err := split.Files(req.Collect, int64(lim.Output))
		if err != nil {
			return nil, fmt.Errorf("collecting files: %w", err)
		}
		res.Files = files
	}
	f := verdict.Facts{Exited: true, ExitCode: code, Limits: lim, OOMKilled: oom, OOMMarkers: r.OOMMarkers}
	res.Usage.Network = nr.stop()
	// The engine reports a signal death as 128+signal. A program can exit
	// with such a code itself; only the signals a limit sends are mapped.
	switch sig := syscall.Signal(code - 128); sig {
	case syscall.SIGKILL, syscall.SIGXCPU, syscall.SIGXFSZ, syscall.SIGSEGV, syscall.SIGABRT, syscall.SIGSYS:
		f.Exited, f.ExitCode, f.Signal = false, -1, sig
	}
	killed.Fill(&f)
	res.Stdout, res.Stderr = stdout.Text(), stderr.Text()
	res.StdoutTruncated, res.StderrTruncated = stdout.Overflowed(), stderr.Overflowed()
	f.Stderr = string(stderr.Bytes())
	res.Usage.WallMs = wall.Milliseconds()
	if meter != nil {
		meter.Apply(cgName, &res.Usage)
		f.CPU = time.Duration(res.Usage.CPUMs) * time.Millisecond
	}
	verdict.Decide(f, res)

	removeNeeded = false // the engine auto-removes it
	return res, nil
}

// remove force-removes a container, bounded in time, ignoring "already
// gone".
func (b *Backend) remove(cli *client.Client, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
	if err != nil && !cerrdefs.IsNotFound(err) && !isRemovalInProgress(err) {
		b.opts.Logger.Error("removing container", "id", id, "err", err)
	}
}

func isRemovalInProgress(err error) bool {
	var e interface{ Error() string }
	return errors.As(err, &e) && containsAny(e.Error(), "is already in progress", "No such container")
}

// meterFor returns the usage meter, deciding once per Backend from the
// engine's cgroup driver.
func (b *Backend) meterFor(ctx context.Context, cli *client.Client) *cgmeter.Meter {
	b.meterOnce.Do(func() {
		info, err := cli.Info(ctx)
		if err != nil {
			return
		}
		if info.CgroupDriver == "cgroupfs" {
			b.meter = cgmeter.New("sandrun-docker", info.CgroupVersion)
		}
		if b.meter != nil {
			b.meter.Sweep(cgroup.OwnerPID)
		}
	})
	return b.meter
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}
