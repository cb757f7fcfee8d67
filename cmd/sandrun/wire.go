package main

import (
	"context"
	"errors"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/audit"
	"github.com/sandrun/sandrun/server"
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
	res := &sandrun.Result{
		ID: e.ID, Backend: e.Backend, Language: e.Language, Status: e.Status,
		ExitCode: e.ExitCode, Signal: e.Signal, Error: e.Error, Usage: e.Usage,
		Sanitized: e.Sanitized, Detections: e.Detections, Downgrades: e.Downgrades,
		CodeSHA256: e.CodeSHA256, StartedAt: e.StartedAt,
	}
	res.Finish()
	return res, nil
}
