package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/backend/process"
	"github.com/sandrun/sandrun/backend/restricted"
	"github.com/sandrun/sandrun/lang"
)

// config is what every command that runs code shares.
type config struct {
	logger *slog.Logger
	// downgrade lists jail layers the operator explicitly turned off
	// (--downgrade); each run then reports them.
	downgrade []string
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
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding the sandrun binary: %w", err)
	}
	// Starlark's interpreter is this binary (__child starlark-file), so
	// the OS tiers run the restricted tier's language too.
	langs := lang.NewRegistry(lang.Options{Extra: []lang.Spec{restricted.LanguageSpec(self)}})
	if cfg.downgrade == nil && os.Getenv("SANDRUN_JAIL_DOWNGRADE") != "" {
		// An explicit, visible operator choice: every result lists it.
		cfg.downgrade = strings.Split(os.Getenv("SANDRUN_JAIL_DOWNGRADE"), ",")
	}
	// The jail first: `auto` uses it wherever its Check passes.
	jl, err := jail.New(jail.Options{Languages: langs, Logger: cfg.logger, Downgrade: cfg.downgrade, Prestart: cfg.jailPrestart})
	if err != nil {
		return nil, err
	}
	a := &app{langs: langs, closers: []func() error{jl.Close}}
	proc, err := process.New(process.Options{Languages: langs, Logger: cfg.logger})
	if err != nil {
		a.Close()
		return nil, err
	}
	// restricted comes after the OS tiers: auto prefers stronger
	// isolation, and restricted runs only starlark. The host environment
	// is the seed's safe math environment.
	rest, err := restricted.New(restricted.Options{Executable: self, Predeclared: restricted.MathEnv(), Logger: cfg.logger})
	if err != nil {
		a.Close()
		return nil, err
	}
	a.closers = append(a.closers, rest.Close)
	sb, err := sandrun.New(sandrun.Options{
		Backends: []sandrun.Backend{jl, proc, rest},
		Logger:   cfg.logger,
	})
	if err != nil {
		a.Close()
		return nil, err
	}
	a.sandbox = sb
	return a, nil
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
