package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/analyze"
	"github.com/sandrun/sandrun/backend/process"
	"github.com/sandrun/sandrun/lang"
	"github.com/sandrun/sandrun/sanitize"
)

// config is what every command that runs code shares.
type config struct {
	logger *slog.Logger
	// sanitize configures output redaction, which is always installed
	// (a request opts out with no_sanitize / --no-sanitize).
	sanitize sanitize.Options
	// analyze holds static code limits; all zero means off.
	analyze analyze.Limits
}

// app is the wired library: the language registry and the Sandbox with
// every backend registered explicitly (no init-time magic).
type app struct {
	langs   *lang.Registry
	sandbox *sandrun.Sandbox
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
	san, err := sanitize.New(cfg.sanitize)
	if err != nil {
		return nil, err
	}
	var an sandrun.Analyzer
	if cfg.analyze.Enabled() {
		if an, err = analyze.New(cfg.analyze); err != nil {
			return nil, err
		}
	}
	sb, err := sandrun.New(sandrun.Options{
		Backends:  []sandrun.Backend{proc},
		Sanitizer: san,
		Analyzer:  an,
		Logger:    cfg.logger,
	})
	if err != nil {
		return nil, err
	}
	return &app{langs: langs, sandbox: sb}, nil
}

// Close releases what the app holds (backends with background state add
// their teardown here).
func (a *app) Close() error { return nil }
