package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/analyze"
	"github.com/sandrun/sandrun/audit"
	"github.com/sandrun/sandrun/backend/docker"
	"github.com/sandrun/sandrun/backend/gvisor"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/backend/kubernetes"
	"github.com/sandrun/sandrun/backend/process"
	"github.com/sandrun/sandrun/backend/restricted"
	"github.com/sandrun/sandrun/internal/guest"
	"github.com/sandrun/sandrun/internal/pypolicy"
	"github.com/sandrun/sandrun/lang"
	"github.com/sandrun/sandrun/netpolicy"
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
	// jailSpawnAhead spawns one jail init while the rest is wired, for
	// the one run of a one-shot command that may go to the jail
	// (jail.Options.SpawnAhead); Close ends it if the run went elsewhere.
	jailSpawnAhead bool
	// oneShot: the command runs once and exits (`sandrun run`). It sweeps
	// the container tiers only when a process that used them died without
	// its Close (sweep.go), not at every start, and its audit log is
	// checkpointed while its run goes on (audit.Options.OneShot).
	oneShot bool
	// pool sizes warm interpreter pools per language (serve --pool);
	// empty: no pool.
	pool map[string]int
	// warm turns the warm path on, sized from the host (serve, mcp):
	// a zygote per language that forks, prestarted one-use interpreters
	// for the others (warm.go). pool, when set, overrides its sizes.
	warm bool
	// tiers are the backends the operator allows (serve/mcp --tiers);
	// nil: every tier (`sandrun run`, where the caller is the operator).
	// A tier left out is not registered: auto never picks it and a
	// request naming it is refused, naming the allowed ones.
	tiers []string
	// slots is how many runs may execute at once (serve's
	// --max-concurrent; 1 for the CLI): the host's memory and disk are
	// divided among them to cap every request's limits.
	slots int
	// maxWall, when set, caps wall_time (and cpu_time) below the host
	// policy's (serve --max-wall).
	maxWall time.Duration
	// admission gates every run and session step (serve); nil for the CLI.
	admission sandrun.Admission
	// network is what the operator permits runs to reach (network.go);
	// nil: no network.
	network *netpolicy.Operator
	// prefetch are languages to discover while the app is built (the
	// one a `sandrun run` is about to run).
	prefetch []string
}

// policy derives the limits policy from the host and the flags.
func (cfg config) policy() sandrun.Policy {
	p := sandrun.HostPolicy(max(cfg.slots, 1), "")
	if cfg.maxWall > 0 {
		p.Caps.WallTime = min(p.Caps.WallTime, sandrun.Duration(cfg.maxWall))
		p.Caps.CPUTime = min(p.Caps.CPUTime, sandrun.Duration(cfg.maxWall))
	}
	return p
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
	// jail is the jail backend (the warm path's zygotes live in it).
	jail *jail.Backend
	// sanitizer scrubs output (nil: none configured).
	sanitizer sandrun.Sanitizer
	// closers release backends' background state, last first.
	closers []func() error
	// exiting: the process exits right after Close (a one-shot command
	// run from main), so the audit log is closed with CloseAtExit.
	exiting bool
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
	// This process's lease (sweep.go), released last: after its own
	// containers are gone.
	var staleLeases []string
	leasesKnown := false
	if dir, err := leaseDir(os.Getenv); err == nil {
		var release func()
		release, staleLeases, leasesKnown = takeLease(dir)
		a.closers = append(a.closers, func() error { release(); return nil })
	}
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
	allowed := func(name string) bool { return cfg.tiers == nil || slices.Contains(cfg.tiers, name) }
	// The jail first: `auto` uses it wherever its Check passes.
	warm := hostWarm(a.langs, cfg)
	if !allowed(jail.Name) {
		warm = warmPlan{} // the warm path lives in the jail
	}
	// Restricted python's policy runs as a guest of the jail's warm path
	// (a zygote of its own, started at the first run, or at once when
	// prestarting): wired only where the restricted tier is allowed.
	var guests []guest.Spec
	if allowed(restricted.Name) {
		guests = append(guests, pypolicy.Guest())
	}
	// A one-shot command makes its one network namespace in the clone;
	// namespaces made ahead of time pay off in long-lived ones.
	netPool := 0 // the jail's default
	if cfg.jailPrestart == 0 {
		netPool = -1
	}
	// The tiers beside the jail are built while the jail, the audit log
	// and the sanitizer are, and the languages the command is about to
	// run are discovered meanwhile: their constructors sweep what dead
	// supervisors left and docker's writes its seccomp profiles, which a
	// one-shot run would otherwise wait for one after the other. Nothing
	// is used, and no error is reported, before all of it is done, in the
	// order it was always reported in.
	var side sync.WaitGroup
	var (
		proc             *process.Backend
		rest             *restricted.Backend
		dock             *docker.Backend
		procErr, restErr error
	)
	side.Go(func() { proc, procErr = process.New(process.Options{Languages: a.langs, Logger: cfg.logger}) })
	// docker and gvisor never fail here: on a host without dockerd or
	// runsc their Check says why and auto moves on. gvisor is not in the
	// auto order (it is only used when asked for by name): it is several
	// times slower to start than the jail, which auto prefers anyway.
	side.Go(func() { dock = docker.New(docker.Options{Logger: cfg.logger, Network: cfg.network}) })
	for _, l := range cfg.prefetch {
		side.Go(func() { _, _ = a.langs.Lookup(context.Background(), l) }) // the run's Lookup reports errors
	}
	jl, jailErr := jail.New(jail.Options{Languages: a.langs, Logger: cfg.logger, Downgrade: cfg.downgrade, Prestart: cfg.jailPrestart, SpawnAhead: cfg.jailSpawnAhead, NetPool: netPool, Network: cfg.network, Warm: warm.fork, Guests: guests})
	if jailErr == nil {
		a.jail = jl
		a.closers = append(a.closers, jl.Close)
		// restricted comes after the OS tiers: auto prefers stronger
		// isolation. It runs starlark, and python under its language
		// policy inside the jail (the jail is passed in as the guest
		// runner: a backend does not import another). The host
		// environment is the seed's safe math environment.
		side.Go(func() {
			rest, restErr = restricted.New(restricted.Options{Executable: self, Predeclared: restricted.MathEnv(), Logger: cfg.logger, Python: jl})
		})
	}
	var an sandrun.Analyzer
	var san *sanitize.Sanitizer
	var auditErr, sanErr, anErr error
	if jailErr == nil {
		a.audit, auditErr = newAuditLog(cfg.logger, cfg.oneShot) // cmd/sandrun/audit.go: SANDRUN_AUDIT*
	}
	if jailErr == nil && auditErr == nil {
		san, sanErr = sanitize.New(cfg.sanitize)
	}
	if jailErr == nil && auditErr == nil && sanErr == nil && cfg.analyze.Enabled() {
		an, anErr = analyze.New(cfg.analyze)
	}
	side.Wait()
	// What was built is released in the order it always was, whatever
	// failed.
	if proc != nil {
		a.closers = append(a.closers, proc.Close)
	}
	if rest != nil {
		a.closers = append(a.closers, rest.Close)
	}
	if a.audit != nil {
		a.runs = auditRuns{a.audit}
		a.closers = append(a.closers, func() error {
			if a.exiting {
				return a.audit.CloseAtExit()
			}
			return a.audit.Close()
		})
	}
	a.closers = append(a.closers, dock.Close)
	for _, err := range []error{jailErr, procErr, restErr, auditErr, sanErr, anErr} {
		if err != nil {
			return nil, err
		}
	}
	a.sanitizer = san
	a.newStream = func(emit func(stream, text string)) server.StreamFilter { return san.NewStream(emit) }
	gv := gvisor.New(gvisor.Options{Languages: a.langs, Logger: cfg.logger})
	// The jail and process tiers swept what dead supervisors left in New;
	// the container tiers would only at their first use. Sweep them now
	// (allowed or not: a crash may predate the allowlist), in the
	// background so that no command waits for an engine; Close waits.
	// A one-shot command sweeps only after a crash (sweep.go).
	swept := make(chan struct{})
	if cfg.oneShot && leasesKnown && len(staleLeases) == 0 {
		close(swept)
	} else {
		go func() {
			defer close(swept)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			derr := dock.Sweep(ctx) // no engine: nothing to sweep
			gv.Sweep(ctx)
			if derr == nil {
				for _, p := range staleLeases {
					_ = os.Remove(p)
				}
			}
		}()
	}
	a.closers = append(a.closers, func() error {
		select {
		case <-swept:
		case <-time.After(30 * time.Second):
		}
		return nil
	})
	// kubernetes is used only by name: its pods run on a cluster, not on
	// this host. It contacts the cluster on first use (SANDRUN_KUBE*,
	// docs/guide/kubernetes.md).
	kopts, err := kubernetes.OptionsFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	kopts.Logger = cfg.logger
	kube := kubernetes.New(kopts)
	a.closers = append(a.closers, kube.Close)
	// Sessions may live on the allowed tiers that can host them, tried
	// in this order when a session asks for auto.
	a.launchers = map[string]sandrun.Launcher{}
	// restricted hosts python sessions under its policy (last: auto
	// prefers the OS tiers, which run every language).
	for _, l := range []sandrun.Backend{jl, dock, proc, kube, rest} {
		if allowed(l.Name()) {
			a.launchers[l.Name()] = l.(sandrun.Launcher)
			a.launchOrder = append(a.launchOrder, l.Name())
		}
	}
	var backends, byName []sandrun.Backend
	var notAllowed []string
	for _, b := range []sandrun.Backend{jl, dock, proc, rest, gv, kube} {
		switch {
		case !allowed(b.Name()):
			notAllowed = append(notAllowed, b.Name())
		case b == gv || b == kube:
			byName = append(byName, b)
		default:
			backends = append(backends, b)
		}
	}
	if len(backends) == 0 {
		// Only by-name tiers are allowed (gvisor, kubernetes): auto uses
		// them.
		backends, byName = byName, nil
	}
	if len(warm.pool) > 0 {
		// The pool serves one-shot runs from warm jailed interpreters: as
		// strong as the jail, so auto tries it first; languages it does
		// not pool fall through to the jail.
		// What it does not serve warm runs on the jail, cold.
		p, err := pool.New(pool.Config{Launcher: jl, Tier: jail.Name, Sizes: warm.pool, Fallback: jl, Logger: cfg.logger})
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, p.Close)
		backends = append([]sandrun.Backend{p}, backends...)
	}
	a.sandbox, err = sandrun.New(sandrun.Options{
		Backends:   backends,
		ByNameOnly: byName,
		NotAllowed: notAllowed,
		Sanitizer:  a.sanitizer,
		Analyzer:   an,
		Imports:    analyze.ImportFinder{},
		Recorder:   recorder(a.audit),
		Logger:     cfg.logger,
		Policy:     cfg.policy(),
		Admission:  cfg.admission,
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// allTiers are the tier names an operator can allow, strongest first.
func allTiers() []string {
	return []string{jail.Name, docker.Name, gvisor.Name, restricted.Name, process.Name, kubernetes.Name}
}

// defaultServeTiers are the tiers serve and mcp allow unless the operator
// says otherwise: those that isolate. The process tier is a resource
// boundary only (the program sees the host's files and network), so a
// caller of the server gets it only when the operator lists it.
func defaultServeTiers() []string {
	return []string{jail.Name, docker.Name, gvisor.Name, restricted.Name}
}

// parseTiers reads a comma-separated tier list (serve --tiers,
// SANDRUN_TIERS).
func parseTiers(s string) ([]string, error) {
	var out []string
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if !slices.Contains(allTiers(), t) {
			return nil, fmt.Errorf("unknown tier %q (have: %s)", t, strings.Join(allTiers(), ", "))
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no tier allowed (have: %s)", strings.Join(allTiers(), ", "))
	}
	return out, nil
}

// Close releases what the app holds, last acquired first.
func (a *app) Close() error {
	for i := len(a.closers) - 1; i >= 0; i-- {
		_ = a.closers[i]()
	}
	a.closers = nil
	return nil
}
