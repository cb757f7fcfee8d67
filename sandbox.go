package sandrun

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// Backend is one isolation tier. Each lives in its own package under
// backend/ and is registered explicitly by whoever builds the Sandbox.
type Backend interface {
	// Name is the tier's name: "restricted", "process", "jail", ...
	Name() string
	// Check reports whether the backend can run language on this host now.
	// The error says what is missing, in words a person can act on.
	Check(ctx context.Context, language string) error
	// Run executes a validated request whose Limits have their defaults
	// filled in. The program's outcome (limits, signals, exit codes) is in
	// the Result; a non-nil error means the sandbox itself failed and the
	// Sandbox turns it into StatusInternalError.
	Run(ctx context.Context, req *Request) (*Result, error)
}

// Sanitizer scrubs a finished result in place: stdout, stderr and text
// output files, setting Sanitized and Detections.
type Sanitizer interface {
	SanitizeResult(res *Result)
}

// Analyzer applies static code limits before a run. It returns a
// *RejectError when the code exceeds them.
type Analyzer interface {
	Analyze(language, code string) error
}

// Recorder stores a finished run in the audit log. An error is logged and
// counted; it never costs the caller the result.
type Recorder interface {
	Record(ctx context.Context, req *Request, res *Result) error
}

// RejectError refuses code before it runs (static limits). It is reported
// as StatusRejected with its message.
type RejectError struct{ Msg string }

func (e *RejectError) Error() string { return e.Msg }

// Options configure a Sandbox. Only Backends is required.
type Options struct {
	// Backends in order of preference for "auto": strongest first.
	Backends []Backend
	// ByNameOnly are backends used only when a request names them, never
	// picked by "auto" (gvisor: strong but slow to start).
	ByNameOnly []Backend
	// Sanitizer scrubs output; nil means none is installed (results then
	// report sanitized=false).
	Sanitizer Sanitizer
	// Analyzer applies static code limits; nil means off.
	Analyzer Analyzer
	// Recorder is the audit log; nil means no audit.
	Recorder Recorder
	// Logger receives operational logs; never code or output.
	Logger *slog.Logger
	// MaxCodeSize caps Request.Code; 0 means MaxCodeSize.
	MaxCodeSize int
}

// Sandbox dispatches requests to backends by name. It is safe for
// concurrent use.
type Sandbox struct {
	opts        Options
	byName      map[string]Backend
	auditErrors atomic.Int64
}

// New builds a Sandbox. Backend names must be unique.
func New(opts Options) (*Sandbox, error) {
	if len(opts.Backends) == 0 {
		return nil, errors.New("sandrun: no backends registered")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sandbox{opts: opts, byName: map[string]Backend{}}
	for _, b := range append(append([]Backend(nil), opts.Backends...), opts.ByNameOnly...) {
		if b == nil {
			return nil, errors.New("sandrun: nil backend")
		}
		if _, dup := s.byName[b.Name()]; dup {
			return nil, fmt.Errorf("sandrun: backend %q registered twice", b.Name())
		}
		s.byName[b.Name()] = b
	}
	return s, nil
}

// Backends returns the registered backends: the auto order, then the
// ones used only by name.
func (s *Sandbox) Backends() []Backend {
	return append(append([]Backend(nil), s.opts.Backends...), s.opts.ByNameOnly...)
}

// Backend returns the backend registered under name.
func (s *Sandbox) Backend(name string) (Backend, bool) {
	b, ok := s.byName[name]
	return b, ok
}

// AuditErrors counts audit records that could not be written.
func (s *Sandbox) AuditErrors() int64 { return s.auditErrors.Load() }

// Choose resolves a backend name ("" and "auto" included) for a language.
// Auto picks the first backend in preference order whose Check passes and
// returns a warning when that is not the first one.
func (s *Sandbox) Choose(ctx context.Context, name, language string) (Backend, []string, error) {
	if name != "" && name != "auto" {
		b, ok := s.byName[name]
		if !ok {
			return nil, nil, &RequestError{Field: "backend", Msg: fmt.Sprintf("unknown backend %q (have: auto, %s)", name, strings.Join(s.names(), ", "))}
		}
		if err := b.Check(ctx, language); err != nil {
			return nil, nil, &UnavailableError{Backend: name, Err: err}
		}
		return b, nil, nil
	}
	var why []string
	for i, b := range s.opts.Backends {
		err := b.Check(ctx, language)
		if err == nil {
			var warn []string
			if i > 0 {
				warn = append(warn, fmt.Sprintf("auto chose %s because stronger tiers are unavailable: %s", b.Name(), strings.Join(why, "; ")))
			}
			return b, warn, nil
		}
		why = append(why, fmt.Sprintf("%s: %v", b.Name(), err))
	}
	return nil, nil, &UnavailableError{Backend: "auto", Err: errors.New(strings.Join(why, "; "))}
}

// UnavailableError says a backend cannot run this language on this host.
type UnavailableError struct {
	Backend string
	Err     error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("backend %s is unavailable: %v", e.Backend, e.Err)
}
func (e *UnavailableError) Unwrap() error { return e.Err }

func (s *Sandbox) names() []string {
	var n []string
	for k := range s.byName {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Run validates req, picks its backend, runs it, sanitizes the output and
// records the run. It always returns a non-nil Result. The error is non-nil
// when the request was bad (errors.Is(err, ErrBadRequest); status
// rejected), the code was refused by static limits (*RejectError), the
// backend is unavailable (*UnavailableError) or the sandbox failed
// (status internal_error). A program that fails is not an error.
func (s *Sandbox) Run(ctx context.Context, in *Request) (*Result, error) {
	start := time.Now()
	req := *in
	req.Language = NormalizeLanguage(req.Language)
	sum := sha256.Sum256([]byte(req.Code))
	res := &Result{
		ID:         NewID(),
		Language:   req.Language,
		Backend:    req.Backend,
		ExitCode:   -1,
		CodeSHA256: hex.EncodeToString(sum[:]),
		StartedAt:  start.UTC(),
	}
	runErr := s.run(ctx, &req, res)
	if runErr != nil {
		switch {
		case errors.Is(runErr, ErrBadRequest), errors.As(runErr, new(*RejectError)):
			res.Status = StatusRejected
		default:
			res.Status = StatusInternalError
		}
		res.Error = runErr.Error()
	}
	if res.Usage.WallMs == 0 && res.Status == StatusRejected {
		res.Usage.WallMs = time.Since(start).Milliseconds()
	}
	if s.opts.Sanitizer != nil && !req.NoSanitize {
		s.opts.Sanitizer.SanitizeResult(res)
	}
	res.Finish()
	if s.opts.Recorder != nil {
		if err := s.opts.Recorder.Record(context.WithoutCancel(ctx), &req, res); err != nil {
			s.auditErrors.Add(1)
			s.opts.Logger.Error("audit record failed", "run", res.ID, "err", err)
		}
	}
	s.opts.Logger.Info("run", "run", res.ID, "backend", res.Backend, "language", res.Language,
		"status", res.Status, "wall_ms", res.Usage.WallMs, "code_sha256", res.CodeSHA256)
	return res, runErr
}

func (s *Sandbox) run(ctx context.Context, req *Request, res *Result) error {
	if err := req.Validate(s.opts.MaxCodeSize); err != nil {
		return err
	}
	if !IsKnownLanguage(req.Language) {
		return &RequestError{Field: "language", Msg: fmt.Sprintf("unknown language %q (have: %s)", req.Language, strings.Join(KnownLanguages(), ", "))}
	}
	if s.opts.Analyzer != nil {
		if err := s.opts.Analyzer.Analyze(req.Language, req.Code); err != nil {
			return err
		}
	}
	b, warn, err := s.Choose(ctx, req.Backend, req.Language)
	if err != nil {
		return err
	}
	res.Backend = b.Name()
	req.Backend = b.Name()
	if err := checkNetwork(b, req); err != nil {
		return err
	}
	req.Limits = req.Limits.WithDefaults()
	out, err := b.Run(ctx, req)
	if out != nil {
		// Keep the identity fields the Sandbox owns.
		out.ID, out.CodeSHA256, out.StartedAt = res.ID, res.CodeSHA256, res.StartedAt
		out.Backend, out.Language = b.Name(), req.Language
		*res = *out
	}
	res.Warnings = append(warn, res.Warnings...)
	if err != nil {
		return fmt.Errorf("%s backend: %w", b.Name(), err)
	}
	return nil
}

// NewID returns a random run id (16 bytes, hex).
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// KnownLanguages lists the languages sandrun knows, whatever this host has.
func KnownLanguages() []string { return []string{"python", "javascript", "bash", "starlark"} }

// IsKnownLanguage reports whether name (normalized) is a known language.
func IsKnownLanguage(name string) bool {
	for _, l := range KnownLanguages() {
		if l == name {
			return true
		}
	}
	return false
}

// NormalizeLanguage maps common aliases to the canonical language name.
func NormalizeLanguage(name string) string {
	switch n := strings.ToLower(strings.TrimSpace(name)); n {
	case "py", "python3":
		return "python"
	case "js", "node", "nodejs":
		return "javascript"
	case "sh":
		return "bash"
	case "star", "skylark":
		return "starlark"
	default:
		return n
	}
}
