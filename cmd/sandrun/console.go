package main

import (
	"context"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/audit"
	"github.com/sandrun/sandrun/server"
	"github.com/sandrun/sandrun/server/console"
)

// The web console and the read-only endpoints it needs, wired for
// `serve`: the page at / (server/console), the run history from the audit
// log (GET /v1/runs) and the audit log's health (GET /v1/status).

var _ server.RunLister = auditRuns{}

// List reads runs back from the audit log for GET /v1/runs.
func (r auditRuns) List(ctx context.Context, f server.RunFilter) ([]*sandrun.Result, error) {
	es, err := r.log.List(ctx, audit.Filter{
		Since: f.Since, Until: f.Until, Status: f.Status, Backend: f.Backend, Language: f.Language,
		Caller: f.Caller, Session: f.Session, Limit: f.Limit, Offset: f.Offset,
	})
	if err != nil {
		return nil, err
	}
	out := make([]*sandrun.Result, 0, len(es))
	for _, e := range es {
		out = append(out, resultOf(e))
	}
	return out, nil
}

// withConsole adds the console's routes and the audit log's hooks to the
// server options. Without tokens the page, like the API, answers only a
// loopback Host; with tokens it is public (it holds no data and asks for
// a token before calling the API).
func withConsole(opts *server.Options, a *app, on bool) {
	if a.audit != nil {
		opts.Audit = a.audit
		opts.WithCaller = audit.WithCaller
	}
	if on {
		opts.Routes = append(opts.Routes, console.Routes(console.Options{Public: opts.Auth.Enabled()})...)
	}
}
