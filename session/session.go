package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/beneath"
	"github.com/sandrun/sandrun/internal/driver"
	"github.com/sandrun/sandrun/internal/netproxy"
)

// Session is one live interpreter. Its methods are reached through the
// Manager.
type Session struct {
	m    *Manager
	id   string
	spec Spec
	// turn holds one token: a step (or the reaper's idle close) takes it,
	// so steps run one at a time.
	turn     chan struct{}
	starting bool // guarded by m.mu: not yet visible to callers

	proc  sandrun.Launched
	conn  *driver.Conn
	ended chan struct{} // closed once the interpreter has been waited for
	exit  *sandrun.LaunchExit

	mu        sync.Mutex
	info      Info
	endReason string // set when the supervisor ended the session on purpose
	// netSeen is the proxy's record at the end of the previous step (a
	// session with a network allowlist): a step's usage.network is what
	// was added since.
	netSeen *sandrun.NetworkUsage
}

// launchLimits are the interpreter's limits for its whole life: the
// session's resource limits, its CPU budget, and its lifetime as the
// wall-clock limit (a few seconds past it, so the reaper closes it with a
// clear message first).
func (s *Session) launchLimits() sandrun.Limits {
	l := s.spec.Limits
	l.WallTime = sandrun.Duration(min(s.spec.MaxLifetime.D()+5*time.Second, sandrun.MaxLimits().WallTime.D()))
	return l
}

func (s *Session) start(ctx context.Context) error {
	args, err := driver.Args(s.spec.Language, int64(s.spec.Limits.Memory))
	if err != nil {
		return err
	}
	l := s.m.opts.Launchers[s.spec.Backend]
	// The interpreter outlives the request that creates it: ctx bounds the
	// start only.
	p, err := l.Launch(context.WithoutCancel(ctx), &sandrun.LaunchSpec{
		Language: s.spec.Language, Args: args, Files: s.spec.Files, Env: s.spec.Env,
		Limits: s.launchLimits(), Network: s.spec.Network,
	})
	if err != nil {
		return fmt.Errorf("starting the %s interpreter on %s: %w", s.spec.Language, s.spec.Backend, err)
	}
	c, err := driver.Start(ctx, p, s.m.opts.ReadyTimeout)
	if err != nil {
		_ = p.Kill()
		ex, _ := p.Wait()
		if ex != nil && ex.Error != "" {
			err = fmt.Errorf("%w (interpreter: %s)", err, ex.Error)
		}
		return err
	}
	s.proc, s.conn = p, c
	go s.watch()
	return nil
}

// watch waits for the interpreter to end, whenever and however it does,
// so that a session whose interpreter died between steps (a background
// thread that blew the memory limit) is reported dead, and so that its
// work directory is removed.
func (s *Session) watch() {
	ex, err := s.proc.Wait()
	if ex == nil {
		ex = &sandrun.LaunchExit{Status: sandrun.StatusInternalError, Error: fmt.Sprint(err)}
	}
	s.mu.Lock()
	s.exit = ex
	if (s.info.State == StateIdle || s.info.State == StateRunning) && s.endReason == "" {
		// Between steps nobody else will say why; a step in flight will
		// overwrite this with its own account.
		s.info.State, s.info.Status = StateDead, ex.Status
		s.info.Error = "the interpreter ended: " + orStatus(ex)
	}
	s.mu.Unlock()
	close(s.ended)
}

func orStatus(ex *sandrun.LaunchExit) string {
	if ex.Error != "" {
		return ex.Error
	}
	return string(ex.Status)
}

// Info returns a copy of the session's description.
func (s *Session) Info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

func (s *Session) live() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info.State == StateIdle || s.info.State == StateRunning
}

// end closes the session on purpose (caller, reaper, shutdown): it kills
// the interpreter and waits until it and its files are gone.
func (s *Session) end(status sandrun.Status, msg string) {
	s.mu.Lock()
	live := (s.info.State == StateIdle || s.info.State == StateRunning) && s.endReason == ""
	if live {
		s.endReason = msg
	}
	s.mu.Unlock()
	if s.proc != nil {
		_ = s.proc.Kill()
		<-s.ended
	}
	// Closed is reported only once the interpreter and its files are gone.
	s.mu.Lock()
	if live {
		s.info.State, s.info.Error = StateClosed, msg
		if status != sandrun.StatusOK {
			s.info.Status = status
		}
	}
	s.mu.Unlock()
}

// stepper is a session as the pipeline's executor of steps
// (sandrun.Session). It is not exported: a step must go through the
// pipeline (Manager.Run).
type stepper struct {
	s *Session
	// interactive: the step is a REPL line (RunRequest.Interactive).
	interactive bool
}

var _ sandrun.Session = stepper{}

func (p stepper) ID() string             { return p.s.id }
func (p stepper) Backend() string        { return p.s.spec.Backend }
func (p stepper) Language() string       { return p.s.spec.Language }
func (p stepper) Limits() sandrun.Limits { return p.s.spec.Limits }

// Step runs one validated, admitted step: one at a time per session.
func (p stepper) Step(ctx context.Context, req *sandrun.Request) (*sandrun.Result, error) {
	s := p.s
	if len(req.Files) > 0 && s.proc.WorkDir() == "" {
		return nil, &sandrun.RequestError{Field: "files", Msg: "this backend does not expose the session's work directory to the host"}
	}
	select {
	case <-s.turn:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { s.turn <- struct{}{} }()
	s.mu.Lock()
	if s.info.State != StateIdle {
		in := s.info
		s.mu.Unlock()
		return nil, fmt.Errorf("%w (%s): %s", ErrDead, in.State, in.Error)
	}
	s.info.State = StateRunning
	s.mu.Unlock()

	lim := req.Limits
	res := &sandrun.Result{}
	var out driver.Outcome
	if err := beneath.WriteFiles(s.proc.WorkDir(), req.Files); err != nil {
		res.Status, res.Error, res.ExitCode = sandrun.StatusInternalError, "writing the step's files: "+err.Error(), -1
	} else {
		before := s.usage()
		out = s.conn.Run(ctx, driver.Step{
			Code: req.Code, Stdin: req.Stdin, Timeout: lim.WallTime.D(), Output: int64(lim.Output),
			Grace: s.m.opts.Grace, OnOutput: req.OnOutput, Interactive: p.interactive,
		})
		res = out.Result
		// The driver measures the step's wall time; its CPU time is the
		// interpreter's across the step, its memory peak the session's
		// so far (what the launcher reports; zero where it cannot).
		if after := s.usage(); after.CPUMs > 0 || after.MemoryPeakBytes > 0 {
			res.Usage.CPUMs = max(0, after.CPUMs-before.CPUMs)
			res.Usage.MemoryPeakBytes = after.MemoryPeakBytes
		}
	}
	if out.Dead {
		s.died(out, res)
	} else if len(req.Collect) > 0 && res.Status != sandrun.StatusInternalError {
		files, err := beneath.Collect(s.proc.WorkDir(), req.Collect, beneath.CollectLimits{MaxFile: int64(lim.Output)})
		if err != nil {
			res.Warnings = append(res.Warnings, "collecting files: "+err.Error())
		}
		res.Files = files
	}

	s.stepNetwork(res)
	s.mu.Lock()
	s.info.Runs++
	s.info.LastUsed = s.m.opts.Now().UTC()
	if s.info.State == StateRunning {
		s.info.State = StateIdle
	}
	s.mu.Unlock()
	return res, nil
}

// stepNetwork sets the step's usage.network: the traffic of the
// session's proxy since the previous step (between steps too: a thread
// the program left running counts in the next step). Called with the
// turn held.
func (s *Session) stepNetwork(res *sandrun.Result) {
	if s.spec.Network.IsNone() {
		return
	}
	cur := s.usage().Network
	select {
	case <-s.ended:
		if s.exit != nil && s.exit.Usage.Network != nil {
			cur = s.exit.Usage.Network // the final record
		}
	default:
	}
	if cur == nil {
		return
	}
	res.Usage.Network = netproxy.Delta(cur, s.netSeen)
	s.netSeen = cur
}

// usage is what the session's interpreter has used so far, when its
// launcher can tell (sandrun.UsageReporter).
func (s *Session) usage() sandrun.Usage {
	if r, ok := s.proc.(sandrun.UsageReporter); ok {
		return r.UsageSoFar()
	}
	return sandrun.Usage{}
}

// died finishes a step whose interpreter is gone or unusable: it makes
// sure the interpreter is dead, takes the final word from its exit, and
// marks the session dead with that status.
func (s *Session) died(out driver.Outcome, res *sandrun.Result) {
	if errors.Is(out.Cause, io.EOF) {
		// It is ending on its own: let it, so its exit keeps the real
		// cause (a kill now would be reported as ours).
		select {
		case <-s.ended:
		case <-time.After(2 * time.Second):
		}
	}
	_ = s.proc.Kill()
	<-s.ended
	s.mu.Lock()
	defer s.mu.Unlock()
	ex := s.exit
	switch {
	case s.endReason != "":
		// Closed on purpose while the step ran.
		res.Status, res.Error = sandrun.StatusInternalError, "the session was closed during the step: "+s.endReason
		return
	case errors.Is(out.Cause, driver.ErrUnresponsive):
		res.Error += "; the session is dead"
	case errors.Is(out.Cause, driver.ErrViolation):
		res.Status = sandrun.StatusInternalError
		res.Error = "the interpreter broke the session protocol (" + out.Cause.Error() + "), so it was killed; the session is dead"
	case out.Reason != "":
		// Interrupted for a limit and then it died (e.g. the handler itself
		// ran out of memory): the supervisor's reason stands.
		res.Error = fmt.Sprintf("%s; the interpreter ended (%s); the session is dead", res.Error, orStatus(ex))
	default:
		res.Status = ex.Status
		if (ex.Status == sandrun.StatusExitError || ex.Status == sandrun.StatusSignaled) && s.conn.DiedOfMemory(s.spec.Language) {
			ex.Status = sandrun.StatusMemoryLimit
			res.Status = ex.Status
		}
		if res.Status == sandrun.StatusOK {
			res.Status = sandrun.StatusExitError // it exited while it should be waiting
		}
		res.ExitCode, res.Signal = ex.ExitCode, ex.Signal
		res.Error = "the interpreter ended during the step (" + orStatus(ex) + "); the session is dead"
		if ex.Status == sandrun.StatusMemoryLimit {
			res.Error = fmt.Sprintf("the session used more than its memory limit of %s and was killed; the session is dead", s.spec.Limits.Memory)
		}
	}
	if res.Status == "" {
		res.Status = sandrun.StatusInternalError
	}
	// The interpreter's last words (a fatal error, node's heap report)
	// belong to this step's stderr.
	if last := s.conn.Stderr(); last != "" && !res.StderrTruncated {
		res.Stderr += last
	}
	s.info.State, s.info.Status, s.info.Error = StateDead, res.Status, res.Error
}

// endIfIdle closes the session if it is still idle past its idle timeout
// once it holds the turn: the reaper never closes a session under a step
// that has just started.
func (s *Session) endIfIdle(now time.Time) {
	select {
	case <-s.turn:
	default:
		return
	}
	defer func() { s.turn <- struct{}{} }()
	in := s.Info()
	if in.State == StateIdle && now.Sub(in.LastUsed) >= in.IdleTimeout.D() {
		s.m.opts.Logger.Info("session idle", "session", in.ID)
		s.end(sandrun.StatusTimeout, fmt.Sprintf("the session was idle for %s and was closed", in.IdleTimeout))
	}
}
