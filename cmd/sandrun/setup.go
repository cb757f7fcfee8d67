package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/analyze"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/backend/process"
	"github.com/sandrun/sandrun/lang"
	"github.com/sandrun/sandrun/sanitize"
)

// config is what every command that runs code shares.
type config struct {
	logger *slog.Logger
	// downgrade lists jail layers the operator explicitly turned off
	// (--downgrade); each run then reports them.
	downgrade []string
	// sanitize configures output redaction, which is always installed
	// (a request opts out with no_sanitize / --no-sanitize).
	sanitize sanitize.Options
	// analyze holds static code limits; all zero means off.
	analyze analyze.Limits
	// jailPrestart keeps that many jail inits cloned ahead of time:
	// worth it for long-lived processes (serve, bench), wasted on a
	// one-shot `sandrun run`.
	jailPrestart int
}

// app is the wired library: the language registry and the Sandbox with
// every backend registered explicitly (no init-time magic).
type app struct {
	langs   *lang.Registry
	sandbox *sandrun.Sandbox
	closers []func() error
}

// newApp builds the Sandbox. Backends are listed strongest first: that is
// the order "auto" tries them in.
func newApp(_ context.Context, cfg config) (*app, error) {
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	langs := lang.NewRegistry(lang.Options{})
	if cfg.downgrade == nil && os.Getenv("SANDRUN_JAIL_DOWNGRADE") != "" {
		// An explicit, visible operator choice: every result lists it.
		cfg.downgrade = strings.Split(os.Getenv("SANDRUN_JAIL_DOWNGRADE"), ",")
	}
	// The jail first: `auto` uses it wherever its Check passes.
	jl, err := jail.New(jail.Options{Languages: langs, Logger: cfg.logger, Downgrade: cfg.downgrade, Prestart: cfg.jailPrestart})
	if err != nil {
		return nil, err
	}
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
		Backends:  []sandrun.Backend{jl, proc},
		Sanitizer: san,
		Analyzer:  an,
		Logger:    cfg.logger,
	})
	if err != nil {
		return nil, err
	}
	return &app{langs: langs, sandbox: sb, closers: []func() error{jl.Close}}, nil
}

// Close releases what the app holds (backends with background state add
// their teardown here).
func (a *app) Close() error {
	var errs []error
	for _, c := range a.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}
