package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/audit"
	"github.com/sandrun/sandrun/internal/driver"
	"github.com/sandrun/sandrun/lang"
	"github.com/sandrun/sandrun/server"
	"github.com/sandrun/sandrun/session"
	"github.com/sandrun/sandrun/session/sessionhttp"
	"github.com/sandrun/sandrun/session/sessionmcp"
	"github.com/sandrun/sandrun/session/sessionroute"
)

// auditRuns lets the server's GET /v1/runs/{id} read the audit log. The
// log keeps no output (privacy), so the Result it gives back has the
// run's metadata, status, usage and detections, but empty stdout/stderr.
type auditRuns struct{ log *audit.Log }

var _ server.RunStore = auditRuns{}

func (r auditRuns) Get(ctx context.Context, id string) (*sandrun.Result, error) {
	e, err := r.log.Get(ctx, id)
	if errors.Is(err, audit.ErrNotFound) {
		return nil, server.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return resultOf(e), nil
}

// resultOf is an audit entry in the Result's shape, without output.
func resultOf(e *audit.Entry) *sandrun.Result {
	res := &sandrun.Result{
		ID: e.ID, Backend: e.Backend, Language: e.Language, Status: e.Status,
		ExitCode: e.ExitCode, Signal: e.Signal, Error: e.Error, Usage: e.Usage,
		Sanitized: e.Sanitized, Detections: e.Detections, Downgrades: e.Downgrades,
		CodeSHA256: e.CodeSHA256, StartedAt: e.StartedAt, Session: e.Session,
	}
	res.Finish()
	return res
}

// parsePoolSizes reads --pool "python=4,javascript=2".
func parsePoolSizes(s string) (map[string]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := map[string]int{}
	for _, part := range strings.Split(s, ",") {
		name, n, ok := strings.Cut(strings.TrimSpace(part), "=")
		v, err := strconv.Atoi(n)
		if !ok || err != nil || v < 0 || v > 64 {
			return nil, fmt.Errorf("--pool %q: want LANG=N with N from 0 to 64, comma-separated", part)
		}
		l := lang.Normalize(name)
		if _, err := driver.Args(l, 0); err != nil {
			return nil, fmt.Errorf("--pool: %w", err)
		}
		out[l] = v
	}
	return out, nil
}

// enableSessions mounts /v1/sessions and the session MCP tools on the
// server options, backed by the app's launchers (jail first). The
// manager is shut down when the app closes.
func (a *app) enableSessions(opts *server.Options, maxSessions int, log *slog.Logger) error {
	router, err := sessionRouter()
	if err != nil {
		return err
	}
	prefix := ""
	if router != nil {
		prefix = router.Prefix()
	}
	m, err := session.New(session.Options{
		Sandbox: a.sandbox, Launchers: a.launchers, Order: a.launchOrder,
		MaxSessions: maxSessions, Logger: log, IDPrefix: prefix,
	})
	if err != nil {
		return err
	}
	a.closers = append(a.closers, m.Shutdown)
	// One route per method and path on the server's mux: its auth, body
	// cap (--max-body) and JSON 404/405 cover them as they cover the rest.
	for _, r := range sessionhttp.Routes(m, sessionhttp.Options{Owner: func(r *http.Request) string { return server.Caller(r.Context()) }}) {
		h := r.Handler
		if router != nil {
			h = router.Wrap(h)
		}
		opts.Routes = append(opts.Routes, server.Route{Pattern: r.Pattern, Handler: h})
	}
	prev := opts.MCPTools
	opts.MCPTools = func(ms *mcp.Server) {
		if prev != nil {
			prev(ms)
		}
		sessionmcp.Register(ms, m, server.Caller)
	}
	return nil
}

// sessionRouter is the fleet's session routing (docs/guide/kubernetes.md),
// on when SANDRUN_SESSION_ROUTE names this replica's address as its peers
// reach it (host:port) and SANDRUN_SESSION_ROUTE_KEY the key the replicas
// share; nil when off.
func sessionRouter() (*sessionroute.Router, error) {
	self := os.Getenv("SANDRUN_SESSION_ROUTE")
	if self == "" {
		return nil, nil
	}
	r, err := sessionroute.New(self, []byte(os.Getenv("SANDRUN_SESSION_ROUTE_KEY")))
	if err != nil {
		return nil, fmt.Errorf("SANDRUN_SESSION_ROUTE: %w", err)
	}
	return r, nil
}
