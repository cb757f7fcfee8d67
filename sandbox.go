package sandrun

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/sandrun/sandrun/lang"
)

// Backend is one isolation tier. Each lives in its own package under
// backend/ and is registered explicitly by whoever builds the Sandbox.
type Backend interface {
	// Name is the tier's name: "restricted", "process", "jail", ...
	Name() string
	// Check reports whether the backend can run language on this host now.
	// The error says what is missing, in words a person can act on.
	Check(ctx context.Context, language string) error
	// Run executes a validated, admitted request whose Limits are resolved
	// (see Limits): it takes them as given. The program's outcome (limits, signals, exit codes) is in
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
	// Imports finds the modules code imports, which pick the runtime of
	// a request that does not name one (Request.Runtime); nil: such a
	// request runs on the language's plain runtime.
	Imports ImportFinder
	// Recorder is the audit log; nil means no audit.
	Recorder Recorder
	// Logger receives operational logs; never code or output.
	Logger *slog.Logger
	// MaxCodeSize caps Request.Code; 0 means MaxCodeSize.
	MaxCodeSize int
	// NotAllowed names tiers that exist but that the operator did not
	// allow here (serve --tiers): a request naming one is refused with a
	// RequestError naming the allowed tiers. They are not registered, so
	// auto never picks them.
	NotAllowed []string
	// Policy resolves every request's limits: defaults for zero fields,
	// caps no request may pass (HostPolicy derives them from the host).
	// The zero Policy is DefaultPolicy.
	Policy Policy
	// Admission gates every run and session step before it executes
	// (concurrency, queue, rate limits, draining); nil admits everything
	// at once (the CLI).
	Admission Admission
}

// Sandbox dispatches requests to backends by name. It is safe for
// concurrent use.
type Sandbox struct {
	opts        Options
	byName      map[string]Backend
	auditErrors *atomic.Int64 // shared with the copies WithAdmission makes
}

// New builds a Sandbox. Backend names must be unique.
func New(opts Options) (*Sandbox, error) {
	if len(opts.Backends) == 0 {
		return nil, errors.New("sandrun: no backends registered")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Policy = opts.Policy.normalize()
	s := &Sandbox{opts: opts, byName: map[string]Backend{}, auditErrors: new(atomic.Int64)}
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

// Admission returns the gate runs pass (nil: none).
func (s *Sandbox) Admission() Admission { return s.opts.Admission }

// WithAdmission returns a Sandbox that shares s's backends, hooks and
// counters but admits runs through a. Anything else that runs code
// (sessions) must use the returned Sandbox too, or it bypasses a.
func (s *Sandbox) WithAdmission(a Admission) *Sandbox {
	c := *s
	c.opts.Admission = a
	return &c
}

// Policy returns the limits policy every request is resolved by.
func (s *Sandbox) Policy() Policy { return s.opts.Policy }

// ResolveLimits validates l against the Sandbox's Policy and fills in
// its defaults: what sessions do with the limits they are created with.
func (s *Sandbox) ResolveLimits(l Limits) (Limits, error) { return s.opts.Policy.Resolve(l) }

// AuditErrors counts audit records that could not be written.
func (s *Sandbox) AuditErrors() int64 { return s.auditErrors.Load() }

// Choose resolves a backend name ("" and "auto" included) for a language.
// Auto picks the first backend in preference order whose Check passes and
// returns a warning when that is not the first one.
func (s *Sandbox) Choose(ctx context.Context, name, language string) (Backend, []string, error) {
	if name != "" && name != "auto" {
		b, ok := s.byName[name]
		if !ok && slices.Contains(s.opts.NotAllowed, name) {
			return nil, nil, &RequestError{Field: "backend", Msg: fmt.Sprintf("backend %q is not allowed on this server (allowed: auto, %s)", name, strings.Join(s.names(), ", "))}
		}
		if !ok {
			return nil, nil, &RequestError{Field: "backend", Msg: fmt.Sprintf("unknown backend %q (have: auto, %s)", name, strings.Join(s.names(), ", "))}
		}
		if err := b.Check(ctx, language); err != nil {
			if errors.Is(err, ErrUnsupportedLanguage) {
				// Not a host problem: this tier never runs that language.
				return nil, nil, &RequestError{Field: "backend", Msg: err.Error()}
			}
			return nil, nil, &UnavailableError{Backend: name, Err: err}
		}
		return b, nil, nil
	}
	var why, skipped []string
	for _, b := range s.opts.Backends {
		err := b.Check(ctx, language)
		if err == nil {
			var warn []string
			if len(why) > 0 {
				warn = append(warn, fmt.Sprintf("auto chose %s because stronger tiers are unavailable: %s", b.Name(), strings.Join(why, "; ")))
			}
			return b, warn, nil
		}
		if errors.Is(err, lang.ErrProbeFailed) {
			// The language is installed but its probe failed: a host
			// fault to fix, not a reason to run on a weaker tier.
			return nil, nil, &UnavailableError{Backend: "auto", Err: fmt.Errorf("%s: %w", b.Name(), err)}
		}
		if errors.Is(err, ErrUnsupportedLanguage) {
			// By design, not a weakness of this host (a warm pool for
			// other languages, restricted for python): no reason to warn
			// that a weaker tier was chosen.
			skipped = append(skipped, fmt.Sprintf("%s: %v", b.Name(), err))
			continue
		}
		why = append(why, fmt.Sprintf("%s: %v", b.Name(), err))
	}
	return nil, nil, &UnavailableError{Backend: "auto", Err: errors.New(strings.Join(append(why, skipped...), "; "))}
}

// ErrUnsupportedLanguage marks a Check error that means the backend never
// runs the language (restricted runs only starlark), as opposed to this
// host lacking something: a request naming that backend is then a bad
// request about its backend field, not "unavailable". Backends make such
// errors with Unsupported.
var ErrUnsupportedLanguage = errors.New("the backend does not run this language")

// Unsupported returns an error with msg that matches
// ErrUnsupportedLanguage.
func Unsupported(msg string) error { return &unsupportedError{msg} }

type unsupportedError struct{ msg string }

func (e *unsupportedError) Error() string        { return e.msg }
func (e *unsupportedError) Is(target error) bool { return target == ErrUnsupportedLanguage }

// UnavailableError says a backend cannot run this language on this host.
type UnavailableError struct {
	Backend string
	Err     error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("backend %s is unavailable: %v", e.Backend, e.Err)
}
func (e *UnavailableError) Unwrap() error { return e.Err }

func (s *Sandbox) names() []string { return slices.Sorted(maps.Keys(s.byName)) }

// NewID returns a random run id (16 bytes, hex).
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// KnownLanguages lists the languages sandrun knows, whatever this host
// has (lang.KnownNames).
func KnownLanguages() []string { return lang.KnownNames() }

// IsKnownLanguage reports whether name (normalized) is a known language.
func IsKnownLanguage(name string) bool {
	_, ok := lang.About(name)
	return ok
}

// NormalizeLanguage maps common aliases to the canonical language name
// (lang.Normalize).
func NormalizeLanguage(name string) string { return lang.Normalize(name) }
