package restricted

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/capture"
	"github.com/sandrun/sandrun/internal/verdict"
	"github.com/sandrun/sandrun/lang"
)

// Name is the tier's name.
const Name = "restricted"

// Language is the only language this tier runs.
const Language = lang.Starlark

// killGrace is how long past the wall-clock limit the parent waits for
// the interpreter's own cancellation before it kills the worker (a single
// built-in operation, such as multiplying two huge ints, cannot be
// interrupted from inside).
const killGrace = 100 * time.Millisecond

// Backend is the restricted tier.
type Backend struct {
	opts  Options
	host  *hostTable
	pool  *pool
	slots chan struct{} // runs in flight, at most MaxWorkers
	// noGroup says why workers have no memory cgroup ("" when they
	// do): then RLIMIT_DATA alone holds them, which a Go heap can pass.
	noGroup string
}

var (
	_ sandrun.Backend   = (*Backend)(nil)
	_ sandrun.Diagnoser = (*Backend)(nil)
)

// New checks opts and, unless InProcess, starts the warm workers in the
// background.
func New(opts Options) (*Backend, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	b := &Backend{opts: o, slots: make(chan struct{}, o.MaxWorkers)}
	if o.InProcess || o.Python != nil {
		// Restricted python runs in another process too: it takes the
		// host globals as the worker does.
		if b.host, err = buildHost(o.Predeclared, o.MaxHostArgBytes); err != nil {
			return nil, err
		}
	}
	if o.InProcess {
		// Shared by concurrent runs: freezing makes them read-only.
		o.Predeclared.Freeze()
		return b, nil
	}
	if err := platformCheck(); err != nil {
		return nil, err
	}
	if b.host == nil {
		if b.host, err = buildHost(o.Predeclared, o.MaxHostArgBytes); err != nil {
			return nil, err
		}
	}
	mg, err := newMemGroups(o.Logger)
	if err != nil {
		b.noGroup = err.Error()
	}
	b.pool = newPool(o.Executable, o.Warm, o.Prestart, o.StartTimeout, mg, o.Logger)
	return b, nil
}

// Name implements sandrun.Backend.
func (b *Backend) Name() string { return Name }

// Check implements sandrun.Backend.
func (b *Backend) Check(ctx context.Context, language string) error {
	if language == pythonLanguage {
		return b.checkPython(ctx)
	}
	if language != Language {
		return sandrun.Unsupported(fmt.Sprintf("the restricted tier runs starlark (a Python dialect without I/O) and %s under its policy; run %s with --backend process or jail", pythonLanguage, language))
	}
	if b.opts.InProcess {
		return nil
	}
	if err := platformCheck(); err != nil {
		return err
	}
	if fi, err := os.Stat(b.opts.Executable); err != nil || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("the worker binary %s is not executable: %w", b.opts.Executable, err)
	}
	return nil
}

// Diagnose implements sandrun.Diagnoser for sandrun doctor: can a worker
// start and take its limits here?
func (b *Backend) Diagnose(ctx context.Context) []sandrun.Diagnostic {
	d := sandrun.Diagnostic{Name: "restricted: Starlark worker"}
	if b.opts.InProcess {
		d.OK, d.Detail = true, "in process (no memory bound)"
		return []sandrun.Diagnostic{d}
	}
	if err := b.Check(ctx, Language); err != nil {
		d.Detail = err.Error()
		return []sandrun.Diagnostic{d}
	}
	res, err := b.Run(ctx, &sandrun.Request{Language: Language, Code: "x = 1", Limits: sandrun.DefaultLimits()})
	switch {
	case err != nil:
		d.Detail = err.Error()
	case res.Status != sandrun.StatusOK:
		d.Detail = fmt.Sprintf("%s: %s", res.Status, res.Error)
	default:
		d.OK = true
		d.Detail = fmt.Sprintf("%s, go.starlark.net %s, RLIMIT_DATA and RLIMIT_CPU per run", b.opts.Executable, starlarkVersion())
	}
	return []sandrun.Diagnostic{d}
}

// Close retires the warm workers.
func (b *Backend) Close() error {
	if b.pool != nil {
		b.pool.close()
	}
	return nil
}

// Run implements sandrun.Backend.
func (b *Backend) Run(ctx context.Context, req *sandrun.Request) (*sandrun.Result, error) {
	if err := checkRequest(req); err != nil {
		return nil, err
	}
	if req.Language == pythonLanguage {
		return b.runPython(ctx, req)
	}
	spec := b.spec(req)
	if b.opts.InProcess {
		return b.runInProcess(ctx, req, spec), nil
	}
	res, err := b.runWorker(ctx, req, spec)
	if res != nil && b.noGroup != "" {
		res.Warnings = append(res.Warnings, "the Starlark worker has no memory cgroup ("+b.noGroup+"): its memory limit is RLIMIT_DATA alone, which a Go heap can pass")
	}
	return res, err
}

// checkRequest refuses request fields that mean nothing without a
// filesystem or a process: silently ignoring them would surprise.
func checkRequest(req *sandrun.Request) error {
	var errs []error
	bad := func(field, msg string) {
		errs = append(errs, &sandrun.RequestError{Field: field, Msg: msg})
	}
	os, who := "; use the process or jail tier (--lang starlark runs the same interpreter there)", "Starlark programs"
	if req.Language == pythonLanguage {
		os, who = "; use the jail or process tier for python with files, input and arguments", "restricted python programs"
	}
	if len(req.Files) > 0 {
		bad("files", "the restricted tier has no filesystem"+os)
	}
	if len(req.Collect) > 0 {
		bad("collect", "the restricted tier has no filesystem"+os)
	}
	if req.Stdin != "" {
		bad("stdin", who+" have no standard input"+os)
	}
	if len(req.Args) > 0 {
		bad("args", who+" have no command line"+os)
	}
	return errors.Join(errs...)
}

func (b *Backend) spec(req *sandrun.Request) *runSpec {
	lim := req.Limits
	steps := math.Ceil(lim.CPUTime.D().Seconds() * float64(b.opts.StepsPerCPUSecond))
	return &runSpec{
		Code:             req.Code,
		FileName:         "main.star",
		Dialect:          *b.opts.Dialect,
		Modules:          b.opts.Modules,
		WallClock:        b.opts.WallClock,
		MaxSteps:         uint64(max(steps, 1)),
		CPU:              lim.CPUTime.D(),
		MaxDepth:         b.opts.MaxCallDepth,
		Wall:             lim.WallTime.D(),
		Output:           int64(lim.Output),
		Memory:           int64(lim.Memory),
		MaxVariableBytes: b.opts.MaxVariableBytes,
	}
}

// runInProcess runs in the caller's process: everything but the memory
// bound holds.
func (b *Backend) runInProcess(ctx context.Context, req *sandrun.Request, spec *runSpec) *sandrun.Result {
	stdout := capture.New("stdout", spec.Output, req.OnOutput, nil)
	lockThread()
	defer unlockThread()
	start, cpu0 := time.Now(), threadCPU()
	oc := execute(ctx, spec, globalsFor(spec.Modules, b.opts.Predeclared), captureSink{stdout, spec.Output})
	res := b.result(oc, stdout, spec)
	res.Usage = sandrun.Usage{WallMs: time.Since(start).Milliseconds(), CPUMs: (threadCPU() - cpu0).Milliseconds()}
	res.Downgrades = append(res.Downgrades, "memory limit not enforced: the restricted tier runs in process (Options.InProcess); go.starlark.net has no allocation limit")
	return res
}

type captureSink struct {
	b     *capture.Buffer
	limit int64
}

func (s captureSink) writeLine(line string) bool {
	// Only what the cap can still hold is copied (the buffer's total, and
	// so the truncation notice, is then a lower bound).
	if room := max(s.limit-s.b.Total(), 0) + 1; int64(len(line)) > room {
		line = line[:room]
	}
	_, _ = s.b.Write([]byte(line))
	_, _ = s.b.Write([]byte{'\n'})
	return !s.b.Overflowed()
}

// result builds the Result from the interpreter's outcome.
func (b *Backend) result(oc outcome, stdout *capture.Buffer, spec *runSpec) *sandrun.Result {
	res := &sandrun.Result{Status: oc.Status, Error: oc.Error, ExitCode: -1}
	switch oc.Status {
	case sandrun.StatusOK:
		res.ExitCode = 0
	case sandrun.StatusExitError:
		res.ExitCode = 1
	}
	res.Stdout, res.StdoutTruncated = stdout.Text(), stdout.Overflowed()
	stderr := capture.New("stderr", spec.Output, nil, nil)
	_, _ = stderr.Write([]byte(oc.Stderr))
	res.Stderr, res.StderrTruncated = stderr.Text(), stderr.Overflowed()
	if len(oc.Variables) > 0 {
		dec := json.NewDecoder(bytes.NewReader(oc.Variables))
		dec.UseNumber() // keeps 3.0 as 3.0 and big ints exact
		var vars map[string]any
		if err := dec.Decode(&vars); err == nil {
			res.Variables = vars
		}
	}
	return res
}

// runWorker runs one request on a worker process (protocol in doc.go).
func (b *Backend) runWorker(ctx context.Context, req *sandrun.Request, spec *runSpec) (*sandrun.Result, error) {
	select {
	case b.slots <- struct{}{}:
		defer func() { <-b.slots }()
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for a Starlark worker slot: %w", ctx.Err())
	}
	w, err := b.pool.get()
	if err != nil {
		return nil, fmt.Errorf("starting a Starlark worker: %w", err)
	}
	reuse := false
	defer func() {
		if reuse {
			b.pool.put(w)
		} else {
			b.pool.discard(w)
		}
	}()
	lim := req.Limits
	data := int64(lim.Memory) + b.opts.RuntimeReserve + raceReserve
	if err := w.limits.set(data, w.cpu, lim.CPUTime.D()); err != nil {
		return nil, fmt.Errorf("applying the worker's limits (fail closed): %w", err)
	}
	if err := w.group.prepare(data); err != nil {
		return nil, fmt.Errorf("applying the worker's memory cgroup limit (fail closed): %w", err)
	}
	start := time.Now()
	deadline := start.Add(spec.Wall)
	timer := time.AfterFunc(spec.Wall+killGrace, func() { w.kill(verdict.KillTimeout) })
	defer timer.Stop()
	defer context.AfterFunc(ctx, func() { w.kill(verdict.KillCancel) })()

	stdout := capture.New("stdout", spec.Output, req.OnOutput, nil)
	hc := newHostCaller(ctx, b.host, deadline, spec, stdout, b.opts.MaxHostArgBytes)
	defer hc.cancel()
	done, perr := b.exchange(w, spec, stdout, hc)
	if perr == nil {
		w.runs++
		res := b.result(done.Outcome, stdout, spec)
		cpu := time.Duration(done.CPUNanos)
		res.Usage = sandrun.Usage{WallMs: time.Since(start).Milliseconds(), CPUMs: (cpu - w.cpu).Milliseconds(), MemoryPeakBytes: done.PeakRSS}
		w.cpu = cpu
		switch done.Outcome.Status {
		case sandrun.StatusOK, sandrun.StatusExitError, sandrun.StatusCompileError:
			reuse = w.runs < b.opts.MaxRunsPerWorker && !stdout.Overflowed()
		}
		if hc.cut() && done.Outcome.Status == sandrun.StatusExitError {
			// A host call was cut at the run's deadline: the program did
			// not fail, it ran out of time.
			res.Status, res.ExitCode = sandrun.StatusTimeout, -1
			res.Error = fmt.Sprintf("the program ran longer than its wall-clock limit of %s (in a host function call) and was stopped", spec.Wall)
			if ctx.Err() != nil {
				res.Error = "the run was cancelled by the caller and the program was stopped"
			}
			reuse = false
		}
		if done.Outcome.Status == sandrun.StatusInternalError {
			return res, errors.New(done.Outcome.Error)
		}
		return res, nil
	}
	// The worker died or broke the protocol: find out why.
	w.kill(verdict.KillNone)
	select {
	case <-w.exited:
	case <-time.After(5 * time.Second):
		return nil, fmt.Errorf("the Starlark worker (pid %d) could not be reaped", w.pid)
	}
	return b.deadResult(w, spec, stdout, perr, time.Since(start))
}

// exchange sends the run frame and serves the worker until its done frame.
// An error means the worker died or broke the protocol.
func (b *Backend) exchange(w *proc, spec *runSpec, stdout *capture.Buffer, hc *hostCaller) (*doneMsg, error) {
	msg := runMsg{Spec: *spec, Host: b.host.raw, MaxHostArgBytes: b.opts.MaxHostArgBytes}
	if err := writeJSON(w.in, frameRun, msg); err != nil {
		return nil, fmt.Errorf("sending the run: %w", err)
	}
	// The done frame: variables (at most twice their budget), the error
	// report and message (JSON may escape each byte into 6).
	maxFrame := max(b.opts.MaxHostArgBytes, 2*b.opts.MaxVariableBytes+6*(maxStderr+maxError)) + maxFrameSlack
	for {
		kind, p, err := readFrame(w.out, maxFrame)
		if err != nil {
			return nil, err
		}
		switch kind {
		case frameOut:
			if len(p) > maxOutFrame {
				return nil, fmt.Errorf("protocol: out frame of %d bytes", len(p))
			}
			_, _ = stdout.Write(p)
			if stdout.Total() > spec.Output+maxOutFrame {
				return nil, errors.New("protocol: the worker wrote past the output cap")
			}
		case frameCall:
			if err := writeJSON(w.in, frameReturn, hc.call(p)); err != nil {
				return nil, fmt.Errorf("answering a host call: %w", err)
			}
		case frameDone:
			var d doneMsg
			if err := json.Unmarshal(p, &d); err != nil {
				return nil, fmt.Errorf("protocol: bad done frame: %w", err)
			}
			return &d, nil
		default:
			return nil, fmt.Errorf("protocol: unexpected frame kind %q", kind)
		}
	}
}

// deadResult decides the status of a run whose worker died: killed by the
// parent (timeout, cancel), out of memory (RLIMIT_DATA: the Go runtime
// reports it on stderr and exits), out of CPU (RLIMIT_CPU's SIGKILL), or
// crashed.
func (b *Backend) deadResult(w *proc, spec *runSpec, stdout *capture.Buffer, perr error, wall time.Duration) (*sandrun.Result, error) {
	res := &sandrun.Result{ExitCode: -1}
	res.Stdout, res.StdoutTruncated = stdout.Text(), stdout.Overflowed()
	st := w.state
	cpu := st.UserTime() + st.SystemTime() - w.cpu
	res.Usage = sandrun.Usage{WallMs: wall.Milliseconds(), CPUMs: cpu.Milliseconds()}
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok && ru != nil {
		res.Usage.MemoryPeakBytes = ru.Maxrss * 1024
	}
	crash := string(w.stderr.Bytes())
	ws, _ := st.Sys().(syscall.WaitStatus)
	switch {
	case w.killReason() == verdict.KillTimeout:
		res.Status = sandrun.StatusTimeout
		res.Error = fmt.Sprintf("the program ran longer than its wall-clock limit of %s and was killed", spec.Wall)
	case w.killReason() == verdict.KillCancel:
		res.Status = sandrun.StatusTimeout
		res.Error = "the run was cancelled by the caller and the program was killed"
	case w.group.oomKilled() || outOfMemory(crash) || noThreadLeft(crash):
		res.Status = sandrun.StatusMemoryLimit
		res.Error = fmt.Sprintf("the program used more than its memory limit of %s and was stopped", sandrun.Bytes(spec.Memory))
		res.Stderr = "Error: out of memory (limit " + sandrun.Bytes(spec.Memory).String() + ")\n"
	case strings.Contains(crash, cpuLimitMarker) || (ws.Signaled() && cpu >= spec.CPU):
		res.Status = sandrun.StatusCPULimit
		res.Error = fmt.Sprintf("the program used more than its CPU-time limit of %s and was killed", spec.CPU)
	case strings.Contains(crash, "stack overflow") || strings.Contains(crash, "stack exceeds"):
		res.Status = sandrun.StatusExitError
		res.Error = "the program nested values too deeply: the interpreter's stack overflowed"
		res.Stderr = "Error: stack overflow (values or calls nested too deeply)\n"
	default:
		res.Status = sandrun.StatusInternalError
		res.Error = fmt.Sprintf("the Starlark worker died unexpectedly (%s; %v): %s", st, perr, firstLine(crash))
		return res, errors.New(res.Error)
	}
	return res, nil
}

// cpuLimitMarker is what a worker prints before it kills itself at its
// CPU-time limit.
const cpuLimitMarker = "sandrun worker: CPU-time limit reached (SIGXCPU)"

// oomMarkers are what the Go runtime of a worker (or of the starlark-file
// interpreter) prints when an allocation fails under RLIMIT_DATA. Go 1.26
// sometimes faults inside the garbage collector instead of throwing "out of
// memory" when its own bookkeeping allocation fails (a SIGSEGV in a
// runtime frame, reproduced by TestMemoryBomb...). A runtime fault cannot
// come from the program: Go code's nil dereferences are panics, which the
// interpreter recovers. So under the limit such a fault is the memory
// limit. The table is read-only.
var oomMarkers = []string{
	"fatal error: runtime: out of memory",
	"fatal error: out of memory", // "... allocating heap arena metadata"
	"fatal error: runtime: cannot allocate memory",
	"runtime: out of memory",
	"SIGSEGV: segmentation violation",
}

// noThreadLeft: the worker's Go runtime could not start an OS thread. A
// thread's stack is a data mapping, the worker has no process or thread
// limit of its own and its program cannot start threads: under
// RLIMIT_DATA that is the data segment used up, the memory limit. Workers
// start spare threads so that this is rare (spareThreads).
func noThreadLeft(crash string) bool {
	return (strings.Contains(crash, "pthread_create failed") || strings.Contains(crash, "failed to create new OS thread")) &&
		(strings.Contains(crash, "Resource temporarily unavailable") || strings.Contains(crash, "Cannot allocate memory") ||
			strings.Contains(crash, "errno=11") || strings.Contains(crash, "errno=12"))
}

func outOfMemory(crash string) bool {
	for _, m := range oomMarkers {
		if strings.Contains(crash, m) {
			return true
		}
	}
	return false
}
