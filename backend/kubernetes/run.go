package kubernetes

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/capture"
	"github.com/sandrun/sandrun/internal/markstream"
	"github.com/sandrun/sandrun/internal/verdict"
	corev1 "k8s.io/api/core/v1"
)

// podName is a new run pod's name: this supervisor's owner id and a
// random suffix.
func (b *Backend) podName() string {
	return "sandrun-" + b.ownerID + "-" + randomHex(6)
}

// podSpec is the pod for shape s, alive at most deadline seconds.
func (b *Backend) podSpec(st *state, name string, s shape, deadline int64, warm bool) *corev1.Pod {
	return pod(podParams{
		name: name, owner: st.owner, shape: s, cpus: b.opts.CPUs, uid: runUID(),
		seccomp: b.seccomp, runtime: b.opts.RuntimeClass, deadline: deadline, warm: warm,
		nodeSelector: b.opts.NodeSelector, tolerations: b.opts.Tolerations,
	})
}

// shapeFor is the pod shape a request needs.
func (b *Backend) shapeFor(req *sandrun.Request) shape {
	return shape{Language: req.Language, Image: b.Image(req.Language), Memory: req.Limits.Memory, WorkDir: req.Limits.WorkDir}
}

// acquired is the pod a run got. Once it runs, a goroutine follows its
// state: over is closed when its run container ended or the pod went.
type acquired struct {
	name  string
	warm  bool
	unsub func()

	mu      sync.Mutex
	last    *corev1.Pod // the latest state seen
	deleted bool
	over    chan struct{}
	stop    chan struct{}
}

func newAcquired(name string, warm bool, unsub func()) *acquired {
	a := &acquired{name: name, warm: warm, over: make(chan struct{}), stop: make(chan struct{})}
	var once sync.Once
	a.unsub = func() { once.Do(func() { unsub(); close(a.stop) }) }
	return a
}

// follow records the pod's states until it is over or unsub is called.
func (a *acquired) follow(events <-chan podEvent) {
	for {
		select {
		case <-a.stop:
			return
		case e := <-events:
			a.mu.Lock()
			a.last, a.deleted = e.pod, a.deleted || e.deleted
			done := a.deleted || ended(e.pod) != nil || e.pod.Status.Phase == corev1.PodFailed || e.pod.Status.Phase == corev1.PodSucceeded
			a.mu.Unlock()
			if done {
				close(a.over)
				return
			}
		}
	}
}

// state is the latest state seen and whether the pod was deleted.
func (a *acquired) state() (*corev1.Pod, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last, a.deleted
}

// awaitEnd waits up to d for the pod to be over.
func (a *acquired) awaitEnd(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-a.over:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// acquire claims a warm pod of the request's shape, or creates a cold one
// and waits until it runs. The pod is this run's alone; the caller
// deletes it.
func (b *Backend) acquire(ctx context.Context, st *state, s shape, wall time.Duration) (*acquired, error) {
	if w, ok := st.pool.claim(s, wall); ok {
		ev, unsub := st.watcher.subscribe(w.name)
		a := newAcquired(w.name, true, unsub)
		go a.follow(ev)
		// The pool made it with a long deadline; this run's is shorter.
		age := int64(time.Since(w.created)/time.Second) + 1
		d := age + int64((wall+30*time.Second)/time.Second)
		if err := st.api.patchPod(ctx, w.name, []byte(fmt.Sprintf(`{"spec":{"activeDeadlineSeconds":%d}}`, d))); err != nil {
			a.unsub()
			b.deleteLater(st, w.name)
			return nil, fmt.Errorf("setting the deadline of warm pod %s: %w", w.name, err)
		}
		return a, nil
	}
	name := b.podName()
	ev, unsub := st.watcher.subscribe(name)
	a := newAcquired(name, false, unsub)
	deadline := int64((b.opts.StartTimeout + wall + 30*time.Second) / time.Second)
	if _, err := st.api.createPod(ctx, b.podSpec(st, name, s, deadline, false)); err != nil {
		a.unsub()
		return nil, fmt.Errorf("creating the run pod: %w", err)
	}
	timer := time.NewTimer(b.opts.StartTimeout)
	defer timer.Stop()
	for {
		select {
		case e := <-ev:
			a.last = e.pod
			if e.deleted {
				a.unsub()
				return nil, fmt.Errorf("run pod %s was deleted before it started", name)
			}
			if isRunning(e.pod) {
				go a.follow(ev)
				return a, nil
			}
			if err := startFailure(e.pod); err != nil {
				a.unsub()
				b.deleteLater(st, name)
				return nil, err
			}
		case <-timer.C:
			a.unsub()
			b.deleteLater(st, name)
			return nil, fmt.Errorf("run pod %s did not start within %s (%s)", name, b.opts.StartTimeout, pendingWhy(a.last))
		case <-ctx.Done():
			a.unsub()
			b.deleteLater(st, name)
			return nil, fmt.Errorf("cancelled while run pod %s was starting: %w", name, ctx.Err())
		}
	}
}

// Run implements sandrun.Backend.
//
// On the critical path with a warm pod: a patch (the run's deadline) and
// the attach, which carries the whole request in and the output, the exit
// status and the collected files out. The pod is deleted after the result
// is known, off the critical path.
func (b *Backend) Run(ctx context.Context, req *sandrun.Request) (*sandrun.Result, error) {
	im, st, mark, err := b.begin(ctx, req.Language)
	if err != nil {
		return nil, err
	}
	in, err := payload(im.FileName, imageCommand(im, int64(req.Limits.Memory), req.Args), req, mark, true)
	if err != nil {
		return nil, err
	}
	lim := req.Limits
	a, err := b.acquire(ctx, st, b.shapeFor(req), lim.WallTime.D())
	if err != nil {
		return nil, err
	}
	defer a.unsub()
	defer b.deleteLater(st, a.name)
	if a.warm {
		b.warmRuns.Add(1)
	} else {
		b.coldRuns.Add(1)
	}

	var killed verdict.KillRecord
	stdin := newHoldOpen(in)
	defer stdin.release()
	kill := func(why verdict.Kill, s string) {
		if killed.Set(why, s) {
			stdin.release()
			kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := st.api.deletePod(kctx, a.name); err != nil {
				b.opts.Logger.Warn("kubernetes: killing a run pod", "pod", a.name, "err", err)
			}
		}
	}
	stdout := capture.New("stdout", int64(lim.Output), req.OnOutput, func() { go kill(verdict.KillOutput, "stdout") })
	stderr := capture.New("stderr", int64(lim.Output), req.OnOutput, func() { go kill(verdict.KillOutput, "stderr") })
	split := &markstream.Splitter{Mark: []byte(mark), Out: stdout}
	// Once the end mark arrived, close stdin: the boot shell then exits.
	watch := &endWatch{mark: []byte(mark), out: split, done: stdin.release}

	start := time.Now()
	timer := time.AfterFunc(lim.WallTime.D(), func() { kill(verdict.KillTimeout, "") })
	defer timer.Stop()
	stopCtx := context.AfterFunc(ctx, func() { kill(verdict.KillCancel, "") })
	defer stopCtx()
	// The attach outlives a cancelled ctx: the kill above ends it.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lim.WallTime.D()+time.Minute)
	attachErr := st.api.attach(actx, a.name, stdin, watch, stderr)
	cancel()
	wall := time.Since(start)
	timer.Stop()
	split.Flush()

	res := &sandrun.Result{Downgrades: b.downgrades()}
	res.Usage.WallMs = wall.Milliseconds()
	f := verdict.Facts{Limits: lim, OOMMarkers: im.OOMMarkers}
	killed.Fill(&f)
	rest, over := split.Rest()
	tr, archive, haveTrailer := parseTrailer(rest)
	// The end mark closes a complete archive.
	complete := bytes.HasSuffix(archive, []byte(mark))
	archive = bytes.TrimSuffix(archive, []byte(mark))
	switch {
	case f.Killed != verdict.KillNone:
		// The supervisor ended it: the reason decides.
		f.Signal = syscall.SIGKILL
	case haveTrailer:
		setExit(&f, tr.Status)
		f.CPU = tr.CPU
		res.Usage.CPUMs = tr.CPU.Milliseconds()
		if f.Signal == syscall.SIGKILL {
			// Killed, not by the supervisor: the memory cgroup's OOM
			// killer (which the kubelet reports) or the CPU rlimit.
			f.OOMKilled = b.oomReported(ctx, a)
		}
		if len(req.Collect) > 0 {
			files, err := markstream.Files(archive, over || !complete, req.Collect, int64(lim.Output))
			if err != nil {
				return nil, fmt.Errorf("collecting files: %w", err)
			}
			res.Files = files
		}
	default:
		// No trailer: the boot shell itself was killed (the memory
		// limit, the pod's deadline, an eviction) or the stream broke.
		// The kubelet's report decides.
		if err := b.endedWithoutTrailer(ctx, a, &f, attachErr, stderr); err != nil {
			return nil, err
		}
	}
	res.Stdout, res.Stderr = stdout.Text(), stderr.Text()
	res.StdoutTruncated, res.StderrTruncated = stdout.Overflowed(), stderr.Overflowed()
	f.Stderr = string(stderr.Bytes())
	verdict.Decide(f, res)
	return res, nil
}

// setExit fills how the program ended from the shell's status: 128+n is
// how a shell reports a death by signal n. A program can exit with such a
// code itself; only the signals a limit sends are mapped.
func setExit(f *verdict.Facts, status int) {
	f.Exited, f.ExitCode = true, status
	switch sig := syscall.Signal(status - 128); sig {
	case syscall.SIGKILL, syscall.SIGXCPU, syscall.SIGXFSZ, syscall.SIGSEGV, syscall.SIGABRT, syscall.SIGSYS:
		f.Exited, f.ExitCode, f.Signal = false, -1, sig
	}
}

// oomReported waits for the kubelet's account of the pod's end and
// reports whether the container runtime saw an out-of-memory kill in the
// pod's cgroup.
func (b *Backend) oomReported(ctx context.Context, a *acquired) bool {
	if !a.awaitEnd(ctx, 20*time.Second) {
		b.opts.Logger.Warn("kubernetes: no end reported for a pod whose program was killed", "pod", a.name)
		return false
	}
	p, _ := a.state()
	t := ended(p)
	return t != nil && t.Reason == "OOMKilled"
}

// endedWithoutTrailer decides a run whose boot shell did not report: it
// waits for the kubelet's account of the pod.
func (b *Backend) endedWithoutTrailer(ctx context.Context, a *acquired, f *verdict.Facts, attachErr error, stderr *capture.Buffer) error {
	if !a.awaitEnd(ctx, 30*time.Second) {
		if attachErr != nil {
			return fmt.Errorf("the attach stream to run pod %s failed: %w", a.name, attachErr)
		}
		return fmt.Errorf("run pod %s: the program's end was not reported within 30s of its output's end", a.name)
	}
	p, deleted := a.state()
	switch {
	case p != nil && p.Status.Reason == "DeadlineExceeded":
		f.Killed, f.Signal = verdict.KillTimeout, syscall.SIGKILL
		return nil
	case p != nil && p.Status.Reason == "Evicted":
		return fmt.Errorf("run pod %s was evicted by the kubelet: %s", p.Name, p.Status.Message)
	}
	t := ended(p)
	switch {
	case t == nil && deleted:
		return fmt.Errorf("run pod %s was deleted during the run", a.name)
	case t == nil:
		return fmt.Errorf("run pod %s ended (%s: %s) without its program's end", a.name, p.Status.Reason, p.Status.Message)
	case t.Reason == "OOMKilled":
		f.OOMKilled, f.Signal = true, syscall.SIGKILL
		return nil
	case p.Status.Reason != "":
		return fmt.Errorf("run pod %s ended: %s: %s", p.Name, p.Status.Reason, p.Status.Message)
	}
	msg := strings.TrimSpace(string(stderr.Bytes()))
	if len(msg) > 500 {
		msg = msg[len(msg)-500:]
	}
	return fmt.Errorf("the boot script of run pod %s ended with code %d (%s) before the program's end was reported: %s",
		p.Name, t.ExitCode, t.Reason, msg)
}
