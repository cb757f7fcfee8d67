package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/process"
	"github.com/sandrun/sandrun/backend/restricted"
	"github.com/sandrun/sandrun/lang"
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
	proc, err := process.New(process.Options{Languages: langs, Logger: cfg.logger})
	if err != nil {
		return nil, err
	}
	// restricted comes after the OS tiers: auto prefers stronger
	// isolation, and restricted runs only starlark. The host environment
	// is the seed's safe math environment.
	rest, err := restricted.New(restricted.Options{Executable: self, Predeclared: restricted.MathEnv(), Logger: cfg.logger})
	if err != nil {
		return nil, err
	}
	a := &app{langs: langs, closers: []func() error{rest.Close}}
	sb, err := sandrun.New(sandrun.Options{
		Backends: []sandrun.Backend{proc, rest},
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
	for _, c := range a.closers {
		_ = c()
	}
	return nil
}
