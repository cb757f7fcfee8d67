package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/driver"
	"github.com/sandrun/sandrun/lang"
)

// Errors the Manager returns; transports map them to codes (404, 429,
// 410, 409).
var (
	ErrNotFound = errors.New("no such session")
	ErrTooMany  = errors.New("too many live sessions")
	ErrDead     = errors.New("the session is dead")
	ErrClosed   = errors.New("the session manager is closed")
)

// Options configure a Manager.
type Options struct {
	// Launchers host session interpreters, by backend name ("jail",
	// "process"). Order lists the names in preference order for "auto"
	// (strongest first); empty means sorted names.
	Launchers map[string]sandrun.Launcher
	Order     []string
	// Sandbox is the run pipeline every step goes through, as a one-shot
	// run does: validation, static limits, admission, sanitizer, audit
	// record (with the session's id). Its Policy resolves the limits a
	// session is created with. Required.
	Sandbox *sandrun.Sandbox
	// MaxSessions caps live sessions; default 16.
	MaxSessions int
	// IDPrefix starts every session id this manager makes: a fleet's
	// replica route (session/sessionroute). Empty: plain ids.
	IDPrefix string
	// DefaultIdle and DefaultLifetime apply when a Spec leaves them zero
	// (10 minutes and 1 hour); MaxIdle and MaxLifetime cap what a Spec may
	// ask (1 hour each: the lifetime is also the interpreter's wall-clock
	// limit, which sandrun caps at an hour).
	DefaultIdle, DefaultLifetime time.Duration
	MaxIdle, MaxLifetime         time.Duration
	// ReapInterval is how often idle and expired sessions are looked for;
	// default 1s.
	ReapInterval time.Duration
	// Grace is how long an interrupted step has to stop before the session
	// is killed; default 2s.
	Grace time.Duration
	// ReadyTimeout bounds the interpreter's start; default 30s.
	ReadyTimeout time.Duration
	// KeepDead is how long a dead session's Info stays listed; default 5m.
	KeepDead time.Duration
	Logger   *slog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Spec asks for a session.
type Spec struct {
	Language string `json:"language"`
	// Runtime picks the language's runtime (lang.RuntimeFor): "" or
	// "plain" for the language's own, "data" for python-data. A session
	// has no code yet to pick one by.
	Runtime string `json:"runtime,omitempty"`
	// Backend names the launcher; "" or "auto" picks the first available
	// in preference order.
	Backend string         `json:"backend,omitempty"`
	Limits  sandrun.Limits `json:"limits"`
	// IdleTimeout closes the session after this long without a run.
	IdleTimeout sandrun.Duration `json:"idle_timeout,omitempty"`
	// MaxLifetime closes it this long after its creation, whatever it is
	// doing.
	MaxLifetime sandrun.Duration `json:"max_lifetime,omitempty"`
	// Env is the environment allowlist, as in Request.
	Env map[string]string `json:"env,omitempty"`
	// Files are written into the work directory before the start.
	Files []sandrun.InputFile `json:"files,omitempty"`
	// Network is what the session may reach, for its whole life ("none"
	// by default; an allowlist as in Request, narrowed under the
	// operator's ceiling by the backend). Its caps hold for the whole
	// session; each step's usage.network counts that step's traffic. A
	// step cannot change it.
	Network sandrun.NetworkPolicy `json:"network,omitzero"`
	// Owner names who created the session (the server sets it from the
	// caller's credentials; never from the request body). Transports show
	// and hand a session only to its owner.
	Owner string `json:"-"`
}

// RunRequest is one step in a session: the fields of a run's request that
// a step can set, with the same names and meaning.
type RunRequest struct {
	Code  string `json:"code"`
	Stdin string `json:"stdin,omitempty"`
	// Files are written into the work directory before the step.
	Files []sandrun.InputFile `json:"files,omitempty"`
	// Collect returns matching files from the work directory after it.
	Collect []string `json:"collect,omitempty"`
	// Limits is the same object as a run's. A step may lower wall_time
	// (its time limit; default the session's) and output (the cap per
	// stream); the other limits are the session's for its whole life and
	// may only be repeated.
	Limits sandrun.Limits `json:"limits,omitempty"`
	// Timeout is a deprecated alias of limits.wall_time.
	Timeout    sandrun.Duration `json:"timeout,omitempty"`
	NoSanitize bool             `json:"no_sanitize,omitempty"`
	// Network is refused when set: a session's network is fixed when it
	// is created (Spec.Network), so a step can neither widen nor drop it.
	Network sandrun.NetworkPolicy `json:"network,omitzero"`
	// Interactive runs the step as a REPL line (driver.Step.Interactive):
	// expression values are echoed, and an exit ends the session's
	// interpreter with its code.
	Interactive bool `json:"interactive,omitempty"`
	// OnOutput streams raw chunks, as Request.OnOutput.
	OnOutput func(stream string, chunk []byte) `json:"-"`
}

// request turns the step into the pipeline's Request.
func (r RunRequest) request() (*sandrun.Request, error) {
	l := r.Limits
	switch {
	case r.Timeout == 0:
	case r.Timeout < 0:
		return nil, &sandrun.RequestError{Field: "timeout", Msg: "must not be negative"}
	case l.WallTime == 0:
		l.WallTime = r.Timeout
	case l.WallTime != r.Timeout:
		return nil, &sandrun.RequestError{Field: "timeout", Msg: "is a deprecated alias of limits.wall_time; give one or the other"}
	}
	return &sandrun.Request{Code: r.Code, Stdin: r.Stdin, Files: r.Files, Collect: r.Collect, Limits: l,
		NoSanitize: r.NoSanitize, OnOutput: r.OnOutput, Network: r.Network}, nil
}

// State of a session.
type State string

// States.
const (
	StateIdle    State = "idle"    // alive, waiting for code
	StateRunning State = "running" // a step is running
	StateDead    State = "dead"    // its interpreter is gone; Status says why
	StateClosed  State = "closed"  // closed by the caller, the reaper or shutdown
)

// Info describes a session.
type Info struct {
	ID          string           `json:"id"`
	Language    string           `json:"language"`
	Backend     string           `json:"backend"`
	State       State            `json:"state"`
	Status      sandrun.Status   `json:"status,omitempty"` // why it is dead or closed
	Error       string           `json:"error,omitempty"`
	Runs        int              `json:"runs"`
	Limits      sandrun.Limits   `json:"limits"`
	IdleTimeout sandrun.Duration `json:"idle_timeout"`
	MaxLifetime sandrun.Duration `json:"max_lifetime"`
	CreatedAt   time.Time        `json:"created_at"`
	LastUsed    time.Time        `json:"last_used"`
	ExpiresAt   time.Time        `json:"expires_at"`
	Owner       string           `json:"owner,omitempty"`
	// Network is the session's network policy as asked (omitted: none).
	Network sandrun.NetworkPolicy `json:"network,omitzero"`
}

// Manager owns sessions. It is safe for concurrent use.
type Manager struct {
	opts Options

	mu       sync.Mutex
	sessions map[string]*Session
	closed   bool
	stop     chan struct{}
	reaped   sync.WaitGroup
}

// New returns a Manager and starts its reaper.
func New(opts Options) (*Manager, error) {
	if len(opts.Launchers) == 0 {
		return nil, errors.New("session: no launchers")
	}
	if opts.Sandbox == nil {
		return nil, errors.New("session: Options.Sandbox is required: steps run through its pipeline (validation, static limits, admission, sanitizer, audit)")
	}
	if len(opts.Order) == 0 {
		for k := range opts.Launchers {
			opts.Order = append(opts.Order, k)
		}
		sort.Strings(opts.Order)
	}
	for _, n := range opts.Order {
		if opts.Launchers[n] == nil {
			return nil, fmt.Errorf("session: order names %q, which has no launcher", n)
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 16
	}
	def(&opts.DefaultIdle, 10*time.Minute)
	def(&opts.DefaultLifetime, time.Hour)
	def(&opts.MaxIdle, time.Hour)
	def(&opts.MaxLifetime, time.Hour)
	def(&opts.ReapInterval, time.Second)
	def(&opts.Grace, 2*time.Second)
	def(&opts.ReadyTimeout, 30*time.Second)
	def(&opts.KeepDead, 5*time.Minute)
	if opts.MaxLifetime > sandrun.MaxLimits().WallTime.D() {
		opts.MaxLifetime = sandrun.MaxLimits().WallTime.D()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Manager{opts: opts, sessions: map[string]*Session{}, stop: make(chan struct{})}
	m.reaped.Add(1)
	go m.reaper()
	return m, nil
}

// Languages lists the languages a session can run (those with a driver).
func (m *Manager) Languages() []string { return driver.Languages() }

// Backends lists the launchers' names in preference order.
func (m *Manager) Backends() []string { return append([]string(nil), m.opts.Order...) }

func (m *Manager) validate(sp *Spec) error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, &sandrun.RequestError{Field: field, Msg: fmt.Sprintf(format, a...)})
	}
	sp.Language = lang.Normalize(sp.Language)
	if rt, ok := lang.RuntimeFor(sp.Language, sp.Runtime, nil); ok {
		sp.Language, sp.Runtime = rt.Name, ""
	} else if sp.Runtime != "" {
		bad("runtime", "%s has no runtime %q", sp.Language, sp.Runtime)
	}
	if sp.Language == "" {
		bad("language", "is required")
	} else if _, err := driver.Args(sp.Language, 0); err != nil {
		bad("language", "%v", err)
	}
	if sp.Backend == "" || sp.Backend == "auto" {
		sp.Backend = m.opts.Order[0]
		if !sp.Network.IsNone() {
			// The strongest launcher that can hold the session's proxy.
			for _, n := range m.opts.Order {
				if enforcesNetwork(m.opts.Launchers[n]) == nil {
					sp.Backend = n
					break
				}
			}
		}
	} else if m.opts.Launchers[sp.Backend] == nil {
		bad("backend", "%q cannot host sessions (have: auto, %s)", sp.Backend, strings.Join(m.opts.Order, ", "))
	}
	if err := sp.Network.Validate(); err != nil {
		errs = append(errs, err)
	} else if l := m.opts.Launchers[sp.Backend]; !sp.Network.IsNone() && l != nil {
		if err := enforcesNetwork(l); err != nil {
			bad("network", "the %s tier cannot enforce a network allowlist for a session here: %v", sp.Backend, err)
		}
	}
	// cpu_time is the whole session's budget, not a run's: it is checked
	// against sandrun's maximum, the rest against the Sandbox's caps.
	cpu := sp.Limits.CPUTime
	sp.Limits.CPUTime = 0
	lim, err := m.opts.Sandbox.ResolveLimits(sp.Limits)
	if err != nil {
		errs = append(errs, err)
	} else if err := (sandrun.Limits{CPUTime: cpu}).Validate(); err != nil {
		errs = append(errs, err)
	}
	lim.CPUTime = cpu
	sp.Limits = lim
	if sp.IdleTimeout < 0 || sp.IdleTimeout.D() > m.opts.MaxIdle {
		bad("idle_timeout", "must be between 0 (the default, %s) and %s", m.opts.DefaultIdle, m.opts.MaxIdle)
	}
	if sp.MaxLifetime < 0 || sp.MaxLifetime.D() > m.opts.MaxLifetime {
		bad("max_lifetime", "must be between 0 (the default, %s) and %s", m.opts.DefaultLifetime, m.opts.MaxLifetime)
	}
	// The same rules as a one-shot request for env and files.
	probe := sandrun.Request{Language: sp.Language, Code: "-", Env: sp.Env, Files: sp.Files}
	if err := probe.Validate(0); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// enforcesNetwork says why a launcher cannot hold a session's network
// proxy (nil when it can): it must be a sandrun.NetworkEnforcer that
// enforces one on this host.
func enforcesNetwork(l sandrun.Launcher) error {
	ne, ok := l.(sandrun.NetworkEnforcer)
	if !ok {
		return errors.New("it has no network namespace of its own to hold the proxy (use the jail or docker tier)")
	}
	return ne.EnforcesNetwork()
}

// Create starts a session and returns its Info once its interpreter is
// ready for code.
func (m *Manager) Create(ctx context.Context, sp Spec) (Info, error) {
	if err := m.validate(&sp); err != nil {
		return Info{}, err
	}
	if sp.IdleTimeout == 0 {
		sp.IdleTimeout = sandrun.Duration(m.opts.DefaultIdle)
	}
	if sp.MaxLifetime == 0 {
		sp.MaxLifetime = sandrun.Duration(min(m.opts.DefaultLifetime, m.opts.MaxLifetime))
	}
	// cpu_time is the whole session's CPU budget: by default as much as
	// its lifetime allows. The other limits were resolved by validate.
	if sp.Limits.CPUTime == 0 {
		sp.Limits.CPUTime = sp.MaxLifetime
	}
	// Reserve a slot before starting anything, so a burst of creates
	// cannot start more interpreters than the cap.
	s := &Session{m: m, id: m.opts.IDPrefix + sandrun.NewID(), spec: sp, turn: make(chan struct{}, 1), ended: make(chan struct{})}
	s.turn <- struct{}{}
	now := m.opts.Now()
	s.info = Info{
		ID: s.id, Language: sp.Language, Backend: sp.Backend, State: StateIdle, Limits: sp.Limits,
		IdleTimeout: sp.IdleTimeout, MaxLifetime: sp.MaxLifetime, Owner: sp.Owner, Network: sp.Network,
		CreatedAt: now.UTC(), LastUsed: now.UTC(), ExpiresAt: now.Add(sp.MaxLifetime.D()).UTC(),
	}
	s.starting = true
	if err := m.reserve(s); err != nil {
		return Info{}, err
	}
	err := s.start(ctx)
	m.mu.Lock()
	s.starting = false
	s.mu.Lock()
	s.info.LastUsed = m.opts.Now().UTC() // idle counts from when it is ready
	s.mu.Unlock()
	if err != nil {
		delete(m.sessions, s.id)
	}
	m.mu.Unlock()
	if err != nil {
		return Info{}, err
	}
	m.opts.Logger.Info("session created", "session", s.id, "language", sp.Language, "backend", sp.Backend)
	return s.Info(), nil
}

func (m *Manager) reserve(s *Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	live := 0
	for _, o := range m.sessions {
		if o.live() {
			live++
		}
	}
	if live >= m.opts.MaxSessions {
		return fmt.Errorf("%w: %d of %d; close one first", ErrTooMany, live, m.opts.MaxSessions)
	}
	m.sessions[s.id] = s
	return nil
}

// Get returns a session's Info.
func (m *Manager) Get(id string) (Info, error) {
	s, err := m.lookup(id)
	if err != nil {
		return Info{}, err
	}
	return s.Info(), nil
}

func (m *Manager) lookup(id string) (*Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok || s.starting {
		return nil, fmt.Errorf("%w %q", ErrNotFound, id)
	}
	return s, nil
}

// List returns every session the manager knows (live and recently dead),
// oldest first.
func (m *Manager) List() []Info {
	ss := m.established()
	out := make([]Info, 0, len(ss))
	for _, s := range ss {
		out = append(out, s.Info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out
}

// Run runs code in the session through the Sandbox's pipeline, as a
// one-shot run: validated, checked by static limits, admitted, sanitized
// and recorded with the session's id. The Result is that step's alone:
// its output, status and usage. A step that times out is interrupted and
// the session lives on; when the session dies during the step (the
// interrupt did not work, a memory limit, the interpreter exited) the
// Result says why and the session is dead. A session already dead returns
// ErrDead. The error is the pipeline's otherwise (errors.Is(err,
// sandrun.ErrBadRequest), *sandrun.RejectError, *sandrun.BusyError...).
func (m *Manager) Run(ctx context.Context, id string, rr RunRequest) (*sandrun.Result, error) {
	s, err := m.lookup(id)
	if err != nil {
		return nil, err
	}
	if in := s.Info(); in.State != StateIdle && in.State != StateRunning {
		return nil, fmt.Errorf("%w (%s): %s", ErrDead, in.State, in.Error)
	}
	req, err := rr.request()
	if err != nil {
		return nil, err
	}
	return m.opts.Sandbox.Step(ctx, stepper{s: s, interactive: rr.Interactive}, req)
}

// Close ends a session and forgets it, returning its final Info.
func (m *Manager) Close(id string) (Info, error) {
	s, err := m.lookup(id)
	if err != nil {
		return Info{}, err
	}
	s.end(sandrun.StatusOK, "closed by the caller")
	m.mu.Lock()
	delete(m.sessions, id)
	m.mu.Unlock()
	return s.Info(), nil
}

// Shutdown ends every session, stops the reaper and waits until every
// interpreter is gone and its files removed. The Manager refuses new
// sessions afterwards.
func (m *Manager) Shutdown() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.stop)
	ss := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		ss = append(ss, s)
	}
	m.mu.Unlock()
	m.reaped.Wait()
	var wg sync.WaitGroup
	for _, s := range ss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.end(sandrun.StatusOK, "the session manager shut down")
		}()
	}
	wg.Wait()
	m.mu.Lock()
	m.sessions = map[string]*Session{}
	m.mu.Unlock()
	return nil
}

func (m *Manager) reaper() {
	defer m.reaped.Done()
	t := time.NewTicker(m.opts.ReapInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.reap()
		}
	}
}

// established returns the sessions past their start (live and recently
// dead), to be read outside m.mu.
func (m *Manager) established() []*Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ss []*Session
	for _, s := range m.sessions {
		if !s.starting {
			ss = append(ss, s)
		}
	}
	return ss
}

// reap closes idle and expired sessions and forgets dead ones after
// KeepDead.
func (m *Manager) reap() {
	now := m.opts.Now()
	ss := m.established()
	for _, s := range ss {
		in := s.Info()
		switch {
		case in.State == StateDead || in.State == StateClosed:
			if now.Sub(in.LastUsed) > m.opts.KeepDead {
				m.forget(in.ID)
			}
		case !now.Before(in.ExpiresAt):
			m.opts.Logger.Info("session expired", "session", in.ID)
			s.end(sandrun.StatusTimeout, fmt.Sprintf("the session reached its maximum lifetime of %s and was closed", in.MaxLifetime))
		case in.State == StateIdle && now.Sub(in.LastUsed) >= in.IdleTimeout.D():
			s.endIfIdle(now)
		}
	}
}

func (m *Manager) forget(id string) {
	m.mu.Lock()
	delete(m.sessions, id)
	m.mu.Unlock()
}
