// Package server is sandrun's network face: the REST API (/v1), the
// Piston v2 compatible routes (/api/v2), the MCP server (/mcp, and over
// stdio from the CLI), health, readiness and Prometheus metrics.
//
// It is a transport: it decodes, authenticates, admits (concurrency limit
// with a bounded queue, per-token rate limits) and hands a *sandrun.Request
// to the *sandrun.Sandbox. It never imports a backend package.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/lang"
)

// DefaultAddr is where `sandrun serve` listens unless told otherwise:
// loopback only.
const DefaultAddr = "127.0.0.1:8770"

// RunStore reads finished runs back (the audit log). Get returns
// ErrNotFound when there is no run with that id.
type RunStore interface {
	Get(ctx context.Context, id string) (*sandrun.Result, error)
}

// auditWarnFor is how long after an audit failure /readyz says degraded.
const auditWarnFor = 5 * time.Minute

// ErrNotFound is what a RunStore returns for an unknown id.
var ErrNotFound = errors.New("run not found")

// Languages is what the server needs of the language registry.
type Languages interface {
	All(ctx context.Context) ([]*lang.Language, map[string]error)
}

var _ Languages = (*lang.Registry)(nil)

// StreamFilter is the sanitizer's streaming filter: Write takes raw
// chunks as they come and emits sanitized text (it may hold back a tail
// that could be the start of a secret); Close emits what it still holds.
type StreamFilter interface {
	Write(stream string, p []byte)
	Close()
}

// NewStreamFunc starts a streaming filter that emits sanitized text. With
// package sanitize it is
//
//	func(emit func(stream, text string)) server.StreamFilter { return s.NewStream(emit) }
type NewStreamFunc func(emit func(stream, text string)) StreamFilter

// Route is an extra handler mounted on the server's mux (sessions add
// theirs this way). Pattern is a net/http ServeMux pattern such as
// "POST /v1/sessions". Extra routes are authenticated and rate limited
// like the built-in ones unless Public is set.
type Route struct {
	Pattern string
	Handler http.Handler
	Public  bool
}

// Options configure a Server. Sandbox and Languages are required.
type Options struct {
	Sandbox   *sandrun.Sandbox
	Languages Languages
	// Runs reads runs back for GET /v1/runs/{id}; nil answers 501.
	Runs RunStore
	// NewStream sanitizes streamed output. nil means streaming is only
	// offered to requests that turned sanitization off (fail closed).
	NewStream NewStreamFunc
	// Auth holds the accepted bearer tokens; nil or empty means no
	// authentication, which is only allowed on a loopback address.
	Auth *Auth
	// Admission is the gate every run and session step passes; it must
	// be the one the Sandbox was built with. nil: the server builds one
	// from AdmissionOptions and runs its own requests through
	// Sandbox.WithAdmission (fine for a server without sessions).
	Admission *Admission
	AdmissionOptions
	// MaxBodyBytes caps a request body on every route; 0 means 8 MiB.
	MaxBodyBytes int64
	// MaxCodeBytes caps the code of one run; 0 means
	// sandrun.MaxCodeSize. (The limits a caller may ask for are capped
	// by the Sandbox's Policy.)
	MaxCodeBytes int
	// Routes are extra routes (sessions).
	Routes []Route
	// MCP mounts the MCP server (streamable HTTP) at /mcp.
	MCP bool
	// MCPTools adds tools to the MCP server (sessions).
	MCPTools MCPTools
	// Audit reports the audit log's write failures: in GET /v1/status,
	// counted in /metrics (sandrun_audit_errors_total) and, for five
	// minutes after the last one, a warning in /readyz. nil: no audit
	// log.
	Audit AuditHealth
	// WithCaller attributes a request's runs to its caller (the token's
	// name) in the audit log: audit.WithCaller. GET /v1/runs lists a
	// caller's own runs when tokens are on.
	WithCaller func(ctx context.Context, caller string) context.Context
	// Logger gets access logs (never code, output or tokens).
	Logger *slog.Logger
	// Version is reported by MCP and the OpenAPI document.
	Version string
}

// Server is the HTTP API. Build it with New, serve it with Serve or mount
// Handler yourself.
type Server struct {
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	handler http.Handler
	sb      *sandrun.Sandbox // the Sandbox, admitting through adm
	adm     *Admission
	metrics *metrics
	routes  []string  // registered patterns, for the OpenAPI check
	started time.Time // for GET /v1/status
}

// New checks the options and builds the server.
func New(opts Options) (*Server, error) {
	if opts.Sandbox == nil {
		return nil, errors.New("server: no Sandbox")
	}
	if opts.Languages == nil {
		return nil, errors.New("server: no language registry")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 8 << 20
	}
	if opts.MaxCodeBytes <= 0 {
		opts.MaxCodeBytes = sandrun.MaxCodeSize
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	s := &Server{opts: opts, log: opts.Logger, mux: http.NewServeMux(), adm: opts.Admission, sb: opts.Sandbox, started: time.Now().UTC()}
	switch have := opts.Sandbox.Admission(); {
	case s.adm == nil && have == nil:
		var err error
		if s.adm, err = NewAdmission(opts.AdmissionOptions); err != nil {
			return nil, err
		}
		s.sb = opts.Sandbox.WithAdmission(s.adm)
	case s.adm == nil:
		a, ok := have.(*Admission)
		if !ok {
			return nil, errors.New("server: the Sandbox admits through something other than a server.Admission")
		}
		s.adm = a
	case have != sandrun.Admission(s.adm):
		// Two gates would let sessions (through the Sandbox) and the
		// server's own routes each fill their own slots.
		return nil, errors.New("server: Options.Admission is not the Sandbox's admission (build the Sandbox with sandrun.Options.Admission set to it)")
	}
	s.metrics = s.adm.metrics
	if opts.Audit != nil {
		s.metrics.watchAudit(opts.Audit.Errors)
	}
	s.registerRoutes()
	// Refuse cross-origin browser posts (CSRF against a loopback server
	// with no tokens); non-browser clients send no Sec-Fetch-Site or
	// Origin and pass. The refusal has the same JSON error body as every
	// other.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "", "cross-origin request refused: a browser page on another origin may not post to this server")
	}))
	s.handler = s.accessLog(pistonErrors(cop.Handler(s.mux)))
	return s, nil
}

func (s *Server) registerRoutes() {
	// Public: probes and the API description.
	s.handle("GET /healthz", http.HandlerFunc(s.healthz), true)
	s.handle("GET /readyz", http.HandlerFunc(s.readyz), true)
	s.handle("GET /openapi.json", http.HandlerFunc(serveOpenAPI), true)
	// Authenticated.
	s.handle("GET /metrics", s.metrics.handler(), false)
	s.handle("POST /v1/runs", http.HandlerFunc(s.postRun), false)
	s.handle("GET /v1/runs/{id}", http.HandlerFunc(s.getRun), false)
	s.handle("GET /v1/runs", http.HandlerFunc(s.listRuns), false)    // runlist.go
	s.handle("GET /v1/status", http.HandlerFunc(s.getStatus), false) // status.go
	s.handle("GET /v1/languages", http.HandlerFunc(s.getLanguages), false)
	s.handle("POST /api/v2/execute", http.HandlerFunc(s.pistonExecute), false)
	s.handle("GET /api/v2/runtimes", http.HandlerFunc(s.pistonRuntimes), false)
	s.handle("GET /api/v2/packages", http.HandlerFunc(s.pistonPackages), false)
	s.handle("GET /api/v2/connect", http.HandlerFunc(s.pistonConnect), false) // piston_connect.go
	if s.opts.MCP {
		s.handle("/mcp", s.MCPHandler(), false)
	}
	for _, r := range s.opts.Routes {
		s.handle(r.Pattern, r.Handler, r.Public)
	}
	s.mux.HandleFunc("/", s.notFound)
}

// notFound answers what no route matched: 405 with Allow when the path
// exists under another method, else 404, both as JSON.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, "", fmt.Sprintf("%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", ")))
		return
	}
	writeError(w, http.StatusNotFound, "", fmt.Sprintf("no route %s %s (see /openapi.json)", r.Method, r.URL.Path))
}

// handle mounts h at pattern behind authentication (unless public) and
// the body cap (--max-body; MCP applies its own), and records the
// pattern.
func (s *Server) handle(pattern string, h http.Handler, public bool) {
	if pattern != "/mcp" {
		h = s.capBody(h)
	}
	if !public {
		h = s.authenticate(h)
	}
	s.mux.Handle(pattern, h)
	s.routes = append(s.routes, pattern)
}

// capBody caps every request body at MaxBodyBytes, extra routes
// (sessions) included; a decoder that reads past it answers 413.
func (s *Server) capBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

// Handler is the server's root handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Routes lists the registered route patterns.
func (s *Server) Routes() []string { return append([]string(nil), s.routes...) }

// CheckAddr refuses an address that is not loopback unless auth is on.
func CheckAddr(addr string, auth *Auth) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if isLoopback(host) || auth.Enabled() {
		return nil
	}
	return fmt.Errorf("refusing to listen on %q without authentication: it is not a loopback address; "+
		"configure bearer tokens (--token-file or SANDRUN_TOKENS) or bind 127.0.0.1", addr)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Serve accepts connections on ln until ctx is done, then shuts down
// gracefully: it stops accepting, lets runs in flight finish for up to
// drain, then cancels what is still running (the backends kill those
// programs) and waits for their handlers to answer.
func (s *Server) Serve(ctx context.Context, ln net.Listener, drain time.Duration) error {
	if err := CheckAddr(ln.Addr().String(), s.opts.Auth); err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	ao := s.adm.Options()
	s.log.Info("serving", "addr", ln.Addr().String(), "auth", s.opts.Auth.Enabled(),
		"max_concurrent", ao.MaxConcurrent, "max_queue", ao.MaxQueue, "max_queue_bytes", ao.MaxQueueBytes)
	select {
	case err := <-errc:
		s.Close()
		return err
	case <-ctx.Done():
	}
	return s.shutdown(hs, errc, drain)
}

func (s *Server) shutdown(hs *http.Server, errc chan error, drain time.Duration) error {
	s.adm.Drain()
	s.log.Info("shutting down: draining runs", "in_flight", s.adm.InFlight(), "deadline", drain.String())
	dctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	err := hs.Shutdown(dctx)
	if errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("drain deadline passed: killing runs still in flight", "in_flight", s.adm.InFlight())
		s.adm.Stop()
		// Handlers answer once their runs are killed; give them a moment,
		// then drop the connections.
		kctx, kcancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = hs.Shutdown(kctx)
		kcancel()
		if err != nil {
			_ = hs.Close()
		}
	}
	s.adm.Stop()
	s.adm.Wait()
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	s.log.Info("stopped")
	return nil
}

// Close refuses new runs, cancels every run still in flight and waits for
// them; for servers mounted without Serve.
func (s *Server) Close() { s.adm.Drain(); s.adm.Stop(); s.adm.Wait() }

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, Probe{Status: "ok"})
}

// Probe answers /healthz and /readyz.
type Probe struct {
	Status string `json:"status"`
	// Warnings are problems that do not stop runs (the audit log losing
	// records): the status is then "degraded", still 200.
	Warnings []string `json:"warnings,omitempty"`
}

// readyz is ready when the server is not draining and at least one
// backend can run at least one language; degraded (still 200) while the
// audit log has failed in the last five minutes.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.adm.Draining() {
		writeJSON(w, http.StatusServiceUnavailable, Probe{Status: "draining"})
		return
	}
	found, _ := s.opts.Languages.All(r.Context())
	for _, l := range found {
		if len(s.backendsFor(r.Context(), l.Name)) > 0 {
			p := Probe{Status: "ready"}
			if a := s.opts.Audit; a != nil {
				if at, err := a.LastError(); err != nil && time.Since(at) < auditWarnFor {
					p.Status = "degraded"
					p.Warnings = append(p.Warnings, fmt.Sprintf("audit log: %d failed writes; the last at %s: %v",
						a.Errors(), at.UTC().Format(time.RFC3339), err))
				}
			}
			writeJSON(w, http.StatusOK, p)
			return
		}
	}
	writeJSON(w, http.StatusServiceUnavailable, Probe{Status: "no backend can run any language"})
}

func (s *Server) backendsFor(ctx context.Context, language string) []string {
	var out []string
	for _, b := range s.sb.Backends() {
		if b.Check(ctx, language) == nil {
			out = append(out, b.Name())
		}
	}
	return out
}
