package pool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/beneath"
	"github.com/sandrun/sandrun/internal/driver"
	"github.com/sandrun/sandrun/lang"
)

// Run implements sandrun.Backend: one run on a warm interpreter (or a
// cold one when none is ready or the request asks for more than the
// ceiling), which is destroyed afterwards whatever happened.
func (p *Pool) Run(ctx context.Context, req *sandrun.Request) (*sandrun.Result, error) {
	if err := req.Limits.Resolved(); err != nil {
		return nil, err
	}
	lim := req.Limits
	// The step's own timer interrupts at the wall-clock limit; the
	// launcher's lifetime limit is the backstop a little later.
	launchLim := lim
	launchLim.WallTime = sandrun.Duration(min(lim.WallTime.D()+2*time.Second, sandrun.MaxLimits().WallTime.D()))
	var w *proc
	if covers(p.cfg.Ceiling, lim) {
		w = p.take(req.Language)
	}
	if w != nil {
		p.hits.Add(1)
		if err := w.p.SetLimits(launchLim); err != nil {
			w.destroy()
			return nil, fmt.Errorf("applying the request's limits to a warm interpreter: %w", err)
		}
	} else {
		if _, ok := p.ready[req.Language]; !ok {
			return nil, p.Check(ctx, req.Language)
		}
		p.misses.Add(1)
		var err error
		if w, err = p.launch(ctx, req.Language, launchLim); err != nil {
			return nil, fmt.Errorf("cold launch: %w", err)
		}
	}
	return p.runOn(ctx, w, req, lim)
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
		p.retiring.Add(1)
		p.retiringN.Add(1)
		go func() {
			defer p.retiring.Done()
			defer p.retiringN.Add(-1)
			w.destroy()
		}()
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
		res.Status, res.ExitCode, res.Signal, res.Error = ex.Status, ex.ExitCode, ex.Signal, ex.Error
	}
}

// entryName is the code's name in tracebacks, as the one-shot tiers name
// the file they write.
func entryName(language string) string {
	l, _ := lang.About(language)
	return l.FileName
}
