package pool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/beneath"
	"github.com/sandrun/sandrun/internal/capture"
	"github.com/sandrun/sandrun/internal/driver"
	"github.com/sandrun/sandrun/internal/verdict"
	"github.com/sandrun/sandrun/lang"
)

// Run implements sandrun.Backend: one run on a warm interpreter, which is
// destroyed afterwards whatever happened. What the pool does not serve
// warm (none ready, limits past the ceiling, what program mode cannot do)
// goes to Config.Fallback, or to a cold interpreter launched here.
func (p *Pool) Run(ctx context.Context, req *sandrun.Request) (*sandrun.Result, error) {
	if _, ok := p.ready[req.Language]; !ok {
		return nil, p.Check(ctx, req.Language)
	}
	if err := req.Limits.Resolved(); err != nil {
		return nil, err
	}
	if !req.Network.IsNone() {
		// Warm interpreters were launched with no network: none has the
		// run's proxy in its namespace. A run with an allowlist always
		// goes to the fallback, cold, whose backend opens the proxy for
		// it (or is refused when there is no such fallback).
		if err := p.EnforcesNetwork(); err != nil {
			return nil, &sandrun.RequestError{Field: "network", Msg: "the pool cannot run it: " + err.Error()}
		}
		p.record(req.Language, missNetwork)
		return p.cfg.Fallback.Run(ctx, req)
	}
	lim := req.Limits
	// The step's own timer interrupts at the wall-clock limit; the
	// launcher's lifetime limit is the backstop a little later.
	launchLim := lim
	launchLim.WallTime = sandrun.Duration(min(lim.WallTime.D()+2*time.Second, sandrun.MaxLimits().WallTime.D()))
	var w *proc
	why := p.unservable(req, lim)
	if why == "" {
		if w = p.take(req.Language); w == nil {
			why = missNoneReady
		}
	}
	p.record(req.Language, why)
	if w == nil {
		if p.cfg.Fallback != nil {
			return p.cfg.Fallback.Run(ctx, req)
		}
		var err error
		if w, err = p.launch(ctx, req.Language, launchLim); err != nil {
			return nil, fmt.Errorf("cold launch: %w", err)
		}
	}
	if w.prog {
		// The launcher's clock is the run's: exactly the request's limits.
		if err := w.p.SetLimits(lim); err != nil {
			w.destroy()
			return nil, fmt.Errorf("applying the request's limits to a warm interpreter: %w", err)
		}
		return p.runProgram(ctx, w, req, lim)
	}
	if err := w.p.SetLimits(launchLim); err != nil {
		w.destroy()
		return nil, fmt.Errorf("applying the request's limits to a warm interpreter: %w", err)
	}
	return p.runOn(ctx, w, req, lim)
}

// unservable says why a warm interpreter cannot serve the request (""
// when it can): it must be within the ceiling and, in program mode, run
// exactly as a cold start would run it (the same memory flag, no
// collected files, no variables the interpreter reads at its start).
func (p *Pool) unservable(req *sandrun.Request, lim sandrun.Limits) string {
	if !covers(p.cfg.Ceiling, lim) {
		return missLimits
	}
	if _, _, _, prog := driver.ProgramArgs(req.Language, "", 0); prog {
		switch {
		case lim.Memory != p.cfg.Ceiling.Memory:
			return missMemory
		case len(req.Collect) > 0:
			return missCollect
		case !driver.ProgramWarmable(req.Env):
			return missEnv
		}
	}
	return ""
}

// runProgram runs the request on a program-mode interpreter: its files in
// /work, then the run's frame and stdin on fd 0; the program's own
// streams and exit are the result.
func (p *Pool) runProgram(ctx context.Context, w *proc, req *sandrun.Request, lim sandrun.Limits) (*sandrun.Result, error) {
	defer p.retireBg(w)
	files := append(append([]sandrun.InputFile(nil), req.Files...), sandrun.InputFile{Name: entryName(req.Language), Content: req.Code})
	if err := beneath.WriteFiles(w.p.WorkDir(), files); err != nil {
		return nil, fmt.Errorf("writing request files: %w", err)
	}
	_, _, execArgv, _ := driver.ProgramArgs(req.Language, "", int64(lim.Memory))
	frame, err := driver.ProgramFrame(driver.Program{Args: req.Args, Env: req.Env, ExecArgv: execArgv})
	if err != nil {
		return nil, err
	}
	var over verdict.KillRecord
	kill := func(k verdict.Kill, s string) func() {
		return func() {
			over.Set(k, s)
			_ = w.p.Kill()
		}
	}
	stdout := capture.New("stdout", int64(lim.Output), req.OnOutput, kill(verdict.KillOutput, "stdout"))
	stderr := capture.New("stderr", int64(lim.Output), req.OnOutput, kill(verdict.KillOutput, "stderr"))
	w.out.attach(stdout, stderr)
	// The run starts when its frame goes in: the launcher's own clock
	// started with the interpreter, which may have waited in the pool.
	start := time.Now()
	go func() {
		in := w.p.Stdin()
		_, _ = in.Write(append(frame, req.Stdin...))
		if cl, ok := in.(io.Closer); ok {
			_ = cl.Close()
		}
	}()
	stop := context.AfterFunc(ctx, kill(verdict.KillCancel, ""))
	<-w.exited // the streams drained, the interpreter ended
	stop()
	if w.exit == nil {
		return nil, fmt.Errorf("waiting for the interpreter: %w", w.exitErr)
	}
	ex := *w.exit
	res := &sandrun.Result{Status: ex.Status, ExitCode: ex.ExitCode, Signal: ex.Signal, Error: restate(&ex, lim), Usage: ex.Usage}
	res.Usage.WallMs = min(res.Usage.WallMs, time.Since(start).Milliseconds())
	res.Stdout, res.Stderr = stdout.Text(), stderr.Text()
	res.StdoutTruncated, res.StderrTruncated = stdout.Overflowed(), stderr.Overflowed()
	f := verdict.Facts{Limits: lim}
	over.Fill(&f)
	switch {
	case f.Killed != verdict.KillNone:
		var r sandrun.Result
		verdict.Decide(f, &r)
		res.Status, res.Error = r.Status, r.Error
	case (ex.Status == sandrun.StatusExitError || ex.Status == sandrun.StatusSignaled) && driver.DiedOfMemoryText(req.Language, string(stderr.Bytes())):
		res.Status, res.Error = sandrun.StatusMemoryLimit, fmt.Sprintf("the program could not allocate memory within its limit of %s", lim.Memory)
	}
	return res, nil
}

func (p *Pool) runOn(ctx context.Context, w *proc, req *sandrun.Request, lim sandrun.Limits) (*sandrun.Result, error) {
	if len(req.Files) > 0 || len(req.Collect) > 0 {
		if w.p.WorkDir() == "" {
			w.destroy()
			return nil, errors.New("the pool's launcher does not expose work directories, so files cannot be passed")
		}
		if err := beneath.WriteFiles(w.p.WorkDir(), req.Files); err != nil {
			w.destroy()
			return nil, fmt.Errorf("writing request files: %w", err)
		}
	}
	args := req.Args
	if args == nil {
		args = []string{}
	}
	out := w.c.Run(ctx, driver.Step{
		Code: req.Code, Stdin: req.Stdin, Name: entryName(req.Language), Args: args, Env: req.Env,
		Timeout: lim.WallTime.D(), Output: int64(lim.Output), Grace: time.Second,
		OnOutput: req.OnOutput,
	})
	res := out.Result
	if !out.Dead && len(req.Collect) > 0 {
		files, err := beneath.Collect(w.p.WorkDir(), req.Collect, beneath.CollectLimits{MaxFile: int64(lim.Output)})
		if err != nil {
			w.destroy()
			return nil, fmt.Errorf("collecting files: %w", err)
		}
		res.Files = files
	}
	if !out.Dead {
		// The result is final once the driver said done: the interpreter
		// is destroyed in the background, off the caller's latency.
		p.retireBg(w)
		return res, nil
	}
	var ex *sandrun.LaunchExit
	var err error
	if errors.Is(out.Cause, io.EOF) {
		ex, err = w.reap()
	} else {
		ex, err = w.destroy()
	}
	if ex == nil {
		return nil, fmt.Errorf("waiting for the interpreter: %w", err)
	}
	if (ex.Status == sandrun.StatusExitError || ex.Status == sandrun.StatusSignaled) && w.c.DiedOfMemory(req.Language) {
		ex.Status, ex.Error = sandrun.StatusMemoryLimit, fmt.Sprintf("the program ran out of its memory limit of %s", lim.Memory)
	}
	died(res, out, ex, lim)
	if ex.Usage.MemoryPeakBytes > 0 {
		res.Usage.MemoryPeakBytes = ex.Usage.MemoryPeakBytes
	}
	return res, nil
}

// died takes the status of a run whose interpreter ended (or had to be
// killed) during the step from the supervisor's reason or the exit.
func died(res *sandrun.Result, out driver.Outcome, ex *sandrun.LaunchExit, lim sandrun.Limits) {
	switch {
	case errors.Is(out.Cause, driver.ErrViolation):
		res.Status, res.Error = sandrun.StatusInternalError, "the interpreter broke the driver protocol: "+out.Cause.Error()
	case out.Reason != "":
		// Interrupted for a limit and then killed or dead: that limit.
	case ex.Status == sandrun.StatusOK:
		// os._exit(0) / process.reallyExit(0): the program ended cleanly.
		res.Status, res.ExitCode, res.Error = sandrun.StatusOK, 0, ""
	default:
		res.Status, res.ExitCode, res.Signal, res.Error = ex.Status, ex.ExitCode, ex.Signal, restate(ex, lim)
	}
}

// restate is the launcher's message, with the request's limits when it
// names the launch's own (a step's launch has a grace period on top of
// the wall time).
func restate(ex *sandrun.LaunchExit, lim sandrun.Limits) string {
	if k, ok := launcherKills[ex.Status]; ok && strings.Contains(ex.Error, " limit of ") {
		var r sandrun.Result
		verdict.Decide(verdict.Facts{Killed: k, Limits: lim}, &r)
		return r.Error
	}
	return ex.Error
}

// launcherKills are the statuses a launcher gives for its own limits.
var launcherKills = map[sandrun.Status]verdict.Kill{
	sandrun.StatusTimeout:     verdict.KillTimeout,
	sandrun.StatusCPULimit:    verdict.KillCPU,
	sandrun.StatusMemoryLimit: verdict.KillMemory,
}

// entryName is the code's name in tracebacks, as the one-shot tiers name
// the file they write.
func entryName(language string) string {
	l, _ := lang.About(language)
	return l.FileName
}
