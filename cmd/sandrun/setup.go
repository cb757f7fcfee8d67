package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/analyze"
	"github.com/sandrun/sandrun/audit"
	"github.com/sandrun/sandrun/backend/docker"
	"github.com/sandrun/sandrun/backend/gvisor"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/backend/process"
	"github.com/sandrun/sandrun/backend/restricted"
	"github.com/sandrun/sandrun/lang"
	"github.com/sandrun/sandrun/pool"
	"github.com/sandrun/sandrun/sanitize"
	"github.com/sandrun/sandrun/server"
)

// config is what every command that runs code shares.
type config struct {
	logger *slog.Logger
	// sanitize configures output redaction, which is always installed
	// (a request opts out with no_sanitize / --no-sanitize).
	sanitize sanitize.Options
	// analyze holds static code limits; all zero means off.
	analyze analyze.Limits
	// downgrade lists jail layers the operator explicitly turned off
	// (SANDRUN_JAIL_DOWNGRADE); each run then reports them.
	downgrade []string
	// jailPrestart keeps that many jail inits cloned ahead of time:
	// worth it for long-lived processes (serve, bench), wasted on a
	// one-shot `sandrun run`.
	jailPrestart int
	// pool sizes warm interpreter pools per language (serve --pool);
	// empty: no pool.
	pool map[string]int
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
	// launchers host sessions, by backend name, strongest first in
	// launchOrder.
	launchers   map[string]sandrun.Launcher
	launchOrder []string
	// sanitizer scrubs output (nil: none configured).
	sanitizer sandrun.Sanitizer
	// closers release backends' background state, last first.
	closers []func() error
}

// newApp builds the Sandbox. Backends are listed strongest first: that is
// the order "auto" tries them in.
func newApp(_ context.Context, cfg config) (a *app, err error) {
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	a = &app{}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding the sandrun binary: %w", err)
	}
	// Starlark's interpreter is this binary (__child starlark-file), so
	// the OS tiers run the restricted tier's language too.
	a.langs = lang.NewRegistry(lang.Options{Extra: []lang.Spec{restricted.LanguageSpec(self)}})
	if cfg.downgrade == nil && os.Getenv("SANDRUN_JAIL_DOWNGRADE") != "" {
		// An explicit, visible operator choice: every result lists it.
		cfg.downgrade = strings.Split(os.Getenv("SANDRUN_JAIL_DOWNGRADE"), ",")
	}
	// The jail first: `auto` uses it wherever its Check passes.
	jl, err := jail.New(jail.Options{Languages: a.langs, Logger: cfg.logger, Downgrade: cfg.downgrade, Prestart: cfg.jailPrestart})
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, jl.Close)
	proc, err := process.New(process.Options{Languages: a.langs, Logger: cfg.logger})
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
	a.closers = append(a.closers, rest.Close)
	a.audit, err = newAuditLog(cfg.logger) // cmd/sandrun/audit.go: SANDRUN_AUDIT*
	if err != nil {
		return nil, err
	}
	if a.audit != nil {
		a.runs = auditRuns{a.audit}
		a.closers = append(a.closers, a.audit.Close)
	}
	san, err := sanitize.New(cfg.sanitize)
	if err != nil {
		return nil, err
	}
	a.sanitizer = san
	a.newStream = func(emit func(stream, text string)) server.StreamFilter { return san.NewStream(emit) }
	var an sandrun.Analyzer
	if cfg.analyze.Enabled() {
		if an, err = analyze.New(cfg.analyze); err != nil {
			return nil, err
		}
	}
	// docker and gvisor never fail here: on a host without dockerd or
	// runsc their Check says why and auto moves on. gvisor is not in the
	// auto order (it is only used when asked for by name): it is several
	// times slower to start than the jail, which auto prefers anyway.
	dock := docker.New(docker.Options{Logger: cfg.logger})
	a.closers = append(a.closers, dock.Close)
	gv := gvisor.New(gvisor.Options{Languages: a.langs, Logger: cfg.logger})
	// Sessions may live on the jail, docker or the process tier, tried in
	// that order when a session asks for auto.
	a.launchers = map[string]sandrun.Launcher{"jail": jl, "docker": dock, "process": proc}
	a.launchOrder = []string{"jail", "docker", "process"}
	backends := []sandrun.Backend{jl, dock, proc, rest}
	if len(cfg.pool) > 0 {
		// The pool serves one-shot runs from warm jailed interpreters: as
		// strong as the jail, so auto tries it first; languages it does
		// not pool fall through to the jail.
		p, err := pool.New(pool.Config{Launcher: jl, Tier: jail.Name, Sizes: cfg.pool, Logger: cfg.logger})
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, p.Close)
		backends = append([]sandrun.Backend{p}, backends...)
	}
	a.sandbox, err = sandrun.New(sandrun.Options{
		Backends:   backends,
		ByNameOnly: []sandrun.Backend{gv},
		Sanitizer:  a.sanitizer,
		Analyzer:   an,
		Recorder:   recorder(a.audit),
		Logger:     cfg.logger,
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// Close releases what the app holds, last acquired first.
func (a *app) Close() error {
	for i := len(a.closers) - 1; i >= 0; i-- {
		_ = a.closers[i]()
	}
	a.closers = nil
	return nil
}
