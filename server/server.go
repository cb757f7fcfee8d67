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
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
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
	// MaxConcurrent runs at once; 0 means the number of CPUs.
	MaxConcurrent int
	// MaxQueue is how many runs may wait for a slot; beyond it the
	// server answers 429. 0 means 4 x MaxConcurrent; negative means no
	// queue.
	MaxQueue int
	// QueueTimeout is the longest a run waits for a slot; 0 means 30s.
	QueueTimeout time.Duration
	// RatePerToken limits runs per second per caller (token name, or
	// remote address without auth); 0 means no rate limit.
	RatePerToken float64
	// RateBurst is the bucket size of the rate limit; 0 means
	// max(1, 2 x RatePerToken).
	RateBurst int
	// MaxBodyBytes caps a request body; 0 means 8 MiB.
	MaxBodyBytes int64
	// MaxCodeBytes caps the code of one run; 0 means
	// sandrun.MaxCodeSize.
	MaxCodeBytes int
	// MaxWallTime caps limits.wall_time a caller may ask for; 0 means 5m.
	MaxWallTime time.Duration
	// Routes are extra routes (sessions).
	Routes []Route
	// MCP mounts the MCP server (streamable HTTP) at /mcp.
	MCP bool
	// MCPTools adds tools to the MCP server (sessions).
	MCPTools MCPTools
	// Audit reports the audit log's write failures in GET /v1/status;
	// nil: no audit section.
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
	metrics *metrics
	limiter *limiter
	rates   *rateLimiter
	routes  []string // registered patterns, for the OpenAPI check

	// runCtx is the parent of every run; hardStop cancels it when the
	// shutdown deadline passes, which kills what is still running.
	runCtx   context.Context
	hardStop context.CancelFunc
	draining atomic.Bool
	runs     sync.WaitGroup
	started  time.Time
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
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = runtime.NumCPU()
	}
	if opts.MaxQueue == 0 {
		opts.MaxQueue = 4 * opts.MaxConcurrent
	} else if opts.MaxQueue < 0 {
		opts.MaxQueue = 0
	}
	if opts.QueueTimeout <= 0 {
		opts.QueueTimeout = 30 * time.Second
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 8 << 20
	}
	if opts.MaxCodeBytes <= 0 {
		opts.MaxCodeBytes = sandrun.MaxCodeSize
	}
	if opts.MaxWallTime <= 0 {
		opts.MaxWallTime = 5 * time.Minute
	}
	if opts.RatePerToken < 0 {
		return nil, errors.New("server: negative RatePerToken")
	}
	if opts.RateBurst <= 0 {
		opts.RateBurst = max(1, int(2*opts.RatePerToken))
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	s := &Server{
		opts:    opts,
		log:     opts.Logger,
		mux:     http.NewServeMux(),
		metrics: newMetrics(),
		limiter: newLimiter(opts.MaxConcurrent, opts.MaxQueue, opts.QueueTimeout),
		started: time.Now().UTC(),
	}
	if opts.RatePerToken > 0 {
		s.rates = newRateLimiter(opts.RatePerToken, opts.RateBurst)
	}
	s.limiter.onChange = s.metrics.setQueue
	s.runCtx, s.hardStop = context.WithCancel(context.Background())
	s.registerRoutes()
	// Refuse cross-origin browser posts (CSRF against a loopback server
	// with no tokens); non-browser clients send no Sec-Fetch-Site or
	// Origin and pass.
	s.handler = s.accessLog(http.NewCrossOriginProtection().Handler(s.mux))
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
// records the pattern.
func (s *Server) handle(pattern string, h http.Handler, public bool) {
	if !public {
		h = s.authenticate(h)
	}
	s.mux.Handle(pattern, h)
	s.routes = append(s.routes, pattern)
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
	s.log.Info("serving", "addr", ln.Addr().String(), "auth", s.opts.Auth.Enabled(),
		"max_concurrent", s.opts.MaxConcurrent, "max_queue", s.opts.MaxQueue)
	select {
	case err := <-errc:
		s.hardStop()
		return err
	case <-ctx.Done():
	}
	return s.shutdown(hs, errc, drain)
}

func (s *Server) shutdown(hs *http.Server, errc chan error, drain time.Duration) error {
	s.draining.Store(true)
	inflight := s.limiter.inFlight()
	s.log.Info("shutting down: draining runs", "in_flight", inflight, "deadline", drain.String())
	dctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	err := hs.Shutdown(dctx)
	if errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("drain deadline passed: killing runs still in flight", "in_flight", s.limiter.inFlight())
		s.hardStop()
		// Handlers answer once their runs are killed; give them a moment,
		// then drop the connections.
		kctx, kcancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = hs.Shutdown(kctx)
		kcancel()
		if err != nil {
			_ = hs.Close()
		}
	}
	s.hardStop()
	s.runs.Wait()
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	s.log.Info("stopped")
	return nil
}

// Close cancels every run still in flight; for servers mounted without
// Serve.
func (s *Server) Close() { s.draining.Store(true); s.hardStop(); s.runs.Wait() }

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is ready when the server is not draining and at least one
// backend can run at least one language.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
		return
	}
	found, _ := s.opts.Languages.All(r.Context())
	for _, l := range found {
		if len(s.backendsFor(r.Context(), l.Name)) > 0 {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
			return
		}
	}
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "no backend can run any language"})
}

func (s *Server) backendsFor(ctx context.Context, language string) []string {
	var out []string
	for _, b := range s.opts.Sandbox.Backends() {
		if b.Check(ctx, language) == nil {
			out = append(out, b.Name())
		}
	}
	return out
}
