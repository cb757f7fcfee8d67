package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/audit"
	"github.com/sandrun/sandrun/backend/process"
	"github.com/sandrun/sandrun/lang"
	"github.com/sandrun/sandrun/server"
)

// config is what every command that runs code shares.
type config struct {
	logger *slog.Logger
}

// app is the wired library: the language registry and the Sandbox with
// every backend registered explicitly (no init-time magic).
type app struct {
	langs   *lang.Registry
	sandbox *sandrun.Sandbox
	audit   *audit.Log // nil when SANDRUN_AUDIT=off
	// runs reads runs back for `serve` (the audit log); nil: none.
	runs server.RunStore
	// newStream is the sanitizer's streaming filter for `serve`; nil:
	// streaming only without sanitization.
	newStream server.NewStreamFunc
}

// newApp builds the Sandbox. Backends are listed strongest first: that is
// the order "auto" tries them in.
func newApp(_ context.Context, cfg config) (*app, error) {
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	langs := lang.NewRegistry(lang.Options{})
	proc, err := process.New(process.Options{Languages: langs, Logger: cfg.logger})
	if err != nil {
		return nil, err
	}
	auditLog, err := newAuditLog(cfg.logger) // cmd/sandrun/audit.go: SANDRUN_AUDIT*
	if err != nil {
		return nil, err
	}
	sb, err := sandrun.New(sandrun.Options{
		Backends: []sandrun.Backend{proc},
		Recorder: recorder(auditLog),
		Logger:   cfg.logger,
	})
	if err != nil {
		return nil, err
	}
	a := &app{langs: langs, sandbox: sb, audit: auditLog}
	if auditLog != nil {
		a.runs = auditRuns{auditLog}
	}
	return a, nil
}

// Close releases what the app holds (backends with background state add
// their teardown here).
func (a *app) Close() error {
	if a.audit != nil {
		return a.audit.Close()
	}
	return nil
}
