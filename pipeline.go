package sandrun

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sandrun/sandrun/lang"
)

// The run pipeline. Every run, one-shot or a session step, goes through
// the same stages in this order:
//
//	validate  every field, the language, the limits resolved by the Policy
//	analyze   static code limits (Analyzer)
//	choose    the tier: by name or auto (a step's is its session's)
//	admit     Admission: slot, queue, rate limit, draining
//	execute   Backend.Run (one-shot) or Session.Step (a session step)
//	sanitize  Sanitizer, unless no_sanitize
//	record    Recorder (begun before execute when it can: RunStarter)
//
// A refusal before execute returns a Result with status rejected (or
// cancelled when the caller left while queued) and a typed error; nothing
// ran. The two executors differ only in the choose and execute stages.

// Session is a live interpreter that runs steps: the executor of a
// session step (package session implements it; the interface keeps the
// root package below it).
type Session interface {
	ID() string
	Backend() string
	Language() string
	// Limits are the session's resolved limits. A step may lower
	// wall_time and output; the others hold for the session's whole life.
	Limits() Limits
	// Step runs one validated, admitted step with resolved limits. Its
	// Result is the step's alone: output, status, usage, files.
	Step(ctx context.Context, req *Request) (*Result, error)
}

// RunStarter is a Recorder that also writes a record when a run starts,
// so that a run in flight when the process dies leaves an "interrupted"
// record instead of none. Record then completes that record.
type RunStarter interface {
	Begin(ctx context.Context, req *Request, res *Result) error
}

// MaxCollectFiles is how many files a run's collect patterns return at
// most. Collectors return one more when more matched, so that the
// pipeline can tell: it then keeps MaxCollectFiles, sets
// Result.FilesTruncated and says so in a warning.
const MaxCollectFiles = 64

// Run validates req, picks its backend, admits it, runs it, sanitizes the
// output and records the run. It always returns a non-nil Result. The
// error is non-nil when the request was bad (errors.Is(err,
// ErrBadRequest); status rejected), the code was refused by static limits
// (*RejectError), admission refused it (*BusyError), the backend is
// unavailable (*UnavailableError) or the sandbox failed (status
// internal_error). A program that fails is not an error.
func (s *Sandbox) Run(ctx context.Context, in *Request) (*Result, error) {
	return s.pipeline(ctx, in, nil)
}

// Step runs req as one step of sess through the same pipeline as Run:
// validation (the step's limits against the session's), static limits,
// admission, sanitization and the audit record (with the session's id).
// The request's language and backend are the session's.
func (s *Sandbox) Step(ctx context.Context, sess Session, in *Request) (*Result, error) {
	return s.pipeline(ctx, in, sess)
}

func (s *Sandbox) pipeline(ctx context.Context, in *Request, sess Session) (*Result, error) {
	start := time.Now()
	req := *in
	if sess != nil {
		req.Language, req.Backend = sess.Language(), sess.Backend()
	} else {
		req.Language = lang.Normalize(req.Language)
	}
	sum := sha256.Sum256([]byte(req.Code))
	res := &Result{
		ID:         NewID(),
		Language:   req.Language,
		Backend:    req.Backend,
		ExitCode:   -1,
		CodeSHA256: hex.EncodeToString(sum[:]),
		StartedAt:  start.UTC(),
	}
	if sess != nil {
		res.Session = sess.ID()
	}
	var fl flight
	runErr := s.stages(ctx, &req, res, sess, &fl)
	if runErr != nil {
		var busy *BusyError
		switch {
		case errors.Is(runErr, ErrBadRequest), errors.As(runErr, new(*RejectError)), errors.As(runErr, &busy):
			res.Status = StatusRejected
		case errors.Is(runErr, context.Canceled) || errors.Is(runErr, context.DeadlineExceeded):
			res.Status = StatusCancelled
		default:
			res.Status = StatusInternalError
		}
		res.Error = runErr.Error()
	}
	if res.Usage.WallMs == 0 && (res.Status == StatusRejected || res.Status == StatusCancelled) {
		res.Usage.WallMs = time.Since(start).Milliseconds()
	}
	if s.opts.Sanitizer != nil && !req.NoSanitize {
		s.opts.Sanitizer.SanitizeResult(res)
	}
	res.Finish()
	if fl.done != nil {
		fl.done(res)
	}
	// A run refused at admission never started: it is counted by the
	// admission's metrics, not written to the log (a burst of 429s must
	// not become a burst of audit writes). Bad requests are recorded.
	if s.opts.Recorder != nil && !fl.refused {
		if err := s.opts.Recorder.Record(context.WithoutCancel(ctx), &req, res); err != nil {
			s.auditErrors.Add(1)
			s.opts.Logger.Error("audit record failed", "run", res.ID, "err", err)
		}
	}
	s.opts.Logger.Info("run", "run", res.ID, "session", res.Session, "backend", res.Backend, "language", res.Language,
		"status", res.Status, "wall_ms", res.Usage.WallMs, "code_sha256", res.CodeSHA256)
	return res, runErr
}

// flight is what the pipeline learns of a run's admission.
type flight struct {
	done    func(*Result) // set once admission let the run in
	refused bool          // admission refused it (or the caller left while queued)
}

// stages runs validate .. execute.
func (s *Sandbox) stages(ctx context.Context, req *Request, res *Result, sess Session, fl *flight) error {
	// validate
	err := s.validate(req, sess)
	res.Language = req.Language // the runtime it resolved to
	if err != nil {
		return err
	}
	info, _ := lang.About(req.Language)
	// analyze
	if s.opts.Analyzer != nil {
		if err := s.opts.Analyzer.Analyze(req.Language, req.Code); err != nil {
			return err
		}
	}
	// choose
	var b Backend
	if sess == nil {
		var warn []string
		var err error
		if b, warn, err = s.Choose(ctx, req.Backend, req.Language); err != nil {
			return err
		}
		req.Backend, res.Backend = b.Name(), b.Name()
		res.Warnings = append(res.Warnings, warn...)
		if err := checkNetwork(b, req); err != nil {
			return err
		}
		if err := checkInteractive(b, req); err != nil {
			return err
		}
	} else if req.IsInteractive() {
		return &RequestError{Field: "stdin", Msg: "a session step takes its input whole; interactive input is for runs"}
	} else if !req.Network.IsNone() {
		return &RequestError{Field: "network", Msg: "a session's network policy is set when the session is created, not per step"}
	}
	// admit
	runCtx := ctx
	if s.opts.Admission != nil {
		t := &Ticket{Kind: "run", Backend: req.Backend, Language: req.Language, Bytes: ticketBytes(req)}
		if sess != nil {
			t.Kind, t.Session = "step", sess.ID()
		}
		c, d, err := s.opts.Admission.Admit(ctx, t)
		if err != nil {
			fl.refused = true
			return err
		}
		runCtx, fl.done = c, d
	}
	if st, ok := s.opts.Recorder.(RunStarter); ok {
		if err := st.Begin(context.WithoutCancel(ctx), req, res); err != nil {
			s.auditErrors.Add(1)
			s.opts.Logger.Error("audit begin failed", "run", res.ID, "err", err)
		}
	}
	// execute
	var out *Result
	if sess != nil {
		out, err = sess.Step(runCtx, req)
	} else {
		// The runtime's variables and display module go to the backend
		// only: the audit record (Begin, Record) keeps the request.
		run := *req
		withRuntime(&run, info)
		out, err = b.Run(runCtx, &run)
	}
	if out != nil {
		// Keep the identity fields the pipeline owns.
		warn := res.Warnings
		out.ID, out.CodeSHA256, out.StartedAt, out.Session = res.ID, res.CodeSHA256, res.StartedAt, res.Session
		out.Backend, out.Language = req.Backend, req.Language
		*res = *out
		res.Warnings = append(warn, out.Warnings...)
		if sess == nil {
			takeDisplay(res, info, req.Limits)
		}
	}
	trimCollected(res)
	if cerr := runCtx.Err(); cerr != nil {
		cancelled(res, context.Cause(runCtx))
	}
	if err != nil {
		return fmt.Errorf("%s backend: %w", req.Backend, err)
	}
	return nil
}

// validate checks the request and resolves its limits in place: against
// the Policy for a run, against the session's limits for a step.
func (s *Sandbox) validate(req *Request, sess Session) error {
	errs := []error{req.Validate(s.opts.MaxCodeSize)}
	var info lang.Info
	if sess == nil {
		var ok bool
		if info, ok = lang.About(req.Language); !ok && req.Language != "" {
			errs = append(errs, &RequestError{Field: "language", Msg: fmt.Sprintf("unknown language %q (have: %s)", req.Language, strings.Join(lang.KnownNames(), ", "))})
		} else if ok {
			rt, err := s.resolveRuntime(req)
			if err != nil {
				errs = append(errs, err)
			}
			info = rt
			errs = append(errs, checkDisplayFiles(req, info)...)
		}
	}
	var lim Limits
	var err error
	if sess == nil {
		lim, err = s.opts.Policy.Resolve(req.Limits)
	} else {
		lim, err = stepLimits(sess.Limits(), req.Limits)
	}
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	req.Limits = lim
	return errors.Join(checkFiles(req, info.FileName)...)
}

// stepLimits resolves a step's limits: the session's, with wall_time and
// output lowered when the step asks. The others are the session's for its
// whole life; a step may repeat them but not change them.
func stepLimits(sess, step Limits) (Limits, error) {
	out := sess
	var errs []error
	sf, qf, of := sess.fields(), step.fields(), out.fields()
	for i, f := range qf {
		v := f.get()
		switch {
		case v == 0 || v == sf[i].get():
		case f.name == "wall_time" || f.name == "output":
			if v > sf[i].get() {
				errs = append(errs, &RequestError{Field: "limits." + f.name, Msg: fmt.Sprintf("%s is above the session's %s; a step may only lower it", f.show(v), f.show(sf[i].get()))})
			} else if err := (Limits{}).withField(i, v).Validate(); err != nil {
				errs = append(errs, err)
			} else {
				of[i].set(v)
			}
		default:
			errs = append(errs, &RequestError{Field: "limits." + f.name, Msg: fmt.Sprintf("is the session's for its whole life (%s); set it when creating the session", f.show(sf[i].get()))})
		}
	}
	return out, errors.Join(errs...)
}

func (l Limits) withField(i int, v int64) Limits {
	l.fields()[i].set(v)
	return l
}

// trimCollected keeps MaxCollectFiles collected files and flags the cut
// (collectors return one more when more matched).
func trimCollected(res *Result) {
	if len(res.Files) <= MaxCollectFiles {
		return
	}
	res.Files = res.Files[:MaxCollectFiles]
	res.FilesTruncated = true
	res.Warnings = append(res.Warnings, fmt.Sprintf("collect: more than %d files matched; only the first %d (by name) were returned", MaxCollectFiles, MaxCollectFiles))
}

// cancelled labels a run whose context ended before it finished: the
// backend saw its context cancelled and killed the program, which it
// reports as a timeout or a signal; the truth is that it was stopped.
func cancelled(res *Result, cause error) {
	switch res.Status {
	case StatusTimeout, StatusSignaled, StatusInternalError, "":
	default:
		return // it finished on its own just as the context ended
	}
	res.Status, res.ExitCode = StatusCancelled, -1
	if errors.Is(cause, ErrShutdown) {
		res.Error = "the server shut down before the run finished: the program was killed at the drain deadline"
	} else {
		res.Error = "the run was cancelled before it finished (the caller went away): the program was killed"
	}
}
