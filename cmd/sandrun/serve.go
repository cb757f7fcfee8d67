package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/server"
)

// serveFlags are the flags `serve` and `mcp` share.
type serveFlags struct {
	addr, tokenFile, logFormat, logLevel string
	maxConcurrent, maxQueue, burst       int
	rate                                 float64
	queueTimeout, maxWall, drain         time.Duration
	maxBody, maxCode, pool, tiers        string
	mcp, sessions, console, warm         bool
	maxSessions                          int
	network                              networkFlags
}

func (f *serveFlags) register(fs *flag.FlagSet, http bool) {
	if http {
		fs.StringVar(&f.addr, "addr", server.DefaultAddr, "listen address; a non-loopback address needs tokens")
		fs.StringVar(&f.tokenFile, "token-file", "", "bearer tokens, one \"NAME sha256:HEX\" per line (make one with `sandrun token`); SANDRUN_TOKENS adds plain tokens, comma-separated")
		fs.Float64Var(&f.rate, "rate", 0, "runs per second per caller (0: no rate limit)")
		fs.IntVar(&f.burst, "burst", 0, "rate-limit burst (0: twice the rate)")
		fs.StringVar(&f.maxBody, "max-body", "8MiB", "largest request body")
		fs.DurationVar(&f.drain, "drain", 30*time.Second, "on SIGTERM, how long runs in flight may finish before they are killed")
		fs.BoolVar(&f.mcp, "mcp", true, "serve MCP (streamable HTTP) at /mcp")
		fs.BoolVar(&f.console, "console", true, "serve the web console at / (console.go)")
	}
	fs.IntVar(&f.maxConcurrent, "max-concurrent", 0, "runs at once (0: the number of CPUs)")
	fs.IntVar(&f.maxQueue, "max-queue", 0, fmt.Sprintf("runs that may wait for a slot before 429 (0: %d x max-concurrent; the queue is also bounded by memory)", server.DefaultQueuePerSlot))
	fs.DurationVar(&f.queueTimeout, "queue-timeout", 30*time.Second, "longest wait for a slot")
	fs.StringVar(&f.maxCode, "max-code", "1MiB", "largest program text")
	fs.DurationVar(&f.maxWall, "max-wall", 5*time.Minute, "largest wall-clock (and CPU) limit a caller may ask for; the other limits are capped by what the host has, divided among max-concurrent runs")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json (logs go to stderr)")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.BoolVar(&f.sessions, "sessions", true, "serve stateful sessions (/v1/sessions and the session MCP tools)")
	fs.IntVar(&f.maxSessions, "max-sessions", 16, "live sessions at most")
	fs.StringVar(&f.tiers, "tiers", "", "the tiers callers may use, comma-separated (default: $SANDRUN_TIERS, else "+strings.Join(defaultServeTiers(), ",")+"; add process only for trusted callers: it does not isolate)")
	fs.StringVar(&f.pool, "pool", "", "warm interpreter pools for one-shot runs, e.g. javascript=2 (default: sized from the host with --warm)")
	fs.BoolVar(&f.warm, "warm", true, "keep interpreters warm, sized from the host: a zygote forks each run of a language that can fork (python), one-use interpreters are started ahead for the others")
	f.network.register(fs)
}

// app builds the library for serve and mcp: pools, sessions and a
// prestarted jail init, all of which pay off in a long-lived process.
func (f *serveFlags) app(ctx context.Context, log *slog.Logger) (*app, server.Options, error) {
	sizes, err := parsePoolSizes(f.pool)
	if err != nil {
		return nil, server.Options{}, &usageError{err: err}
	}
	tiers, err := f.allowedTiers()
	if err != nil {
		return nil, server.Options{}, err
	}
	// One gate for every run and session step, whichever door it comes
	// through: the Sandbox admits through it, the server reads its state.
	adm, err := server.NewAdmission(server.AdmissionOptions{
		MaxConcurrent: f.maxConcurrent, MaxQueue: f.maxQueue, QueueTimeout: f.queueTimeout,
		RatePerToken: f.rate, RateBurst: f.burst,
	})
	if err != nil {
		return nil, server.Options{}, &usageError{err: err}
	}
	op, err := f.network.operator(nil)
	if err != nil {
		return nil, server.Options{}, err
	}
	a, err := newApp(ctx, config{logger: log, pool: sizes, jailPrestart: 1, warm: f.warm,
		slots: adm.Options().MaxConcurrent, maxWall: f.maxWall, admission: adm, tiers: tiers, network: op})
	if err != nil {
		return nil, server.Options{}, err
	}
	// Resolve every language now, off the first request's path. A
	// failed probe is not kept for the server's life: a later lookup
	// retries it (GET /v1/languages says why a language is missing).
	go a.langs.All(ctx)
	opts, err := f.options(a, adm, log)
	if err == nil && f.sessions && len(a.launchers) == 0 && log != nil {
		log.Warn("sessions are off: none of the allowed tiers hosts sessions", "tiers", strings.Join(tiers, ","))
	}
	if err == nil && f.sessions && len(a.launchers) > 0 {
		err = a.enableSessions(&opts, f.maxSessions, log)
	}
	if err != nil {
		a.Close()
		return nil, server.Options{}, err
	}
	return a, opts, nil
}

// allowedTiers is --tiers, else $SANDRUN_TIERS, else the tiers that
// isolate.
func (f *serveFlags) allowedTiers() ([]string, error) {
	if f.tiers != "" {
		t, err := parseTiers(f.tiers)
		if err != nil {
			return nil, &usageError{msg: "--tiers: " + err.Error()}
		}
		return t, nil
	}
	if env := os.Getenv("SANDRUN_TIERS"); env != "" {
		t, err := parseTiers(env)
		if err != nil {
			return nil, fmt.Errorf("SANDRUN_TIERS: %w", err)
		}
		return t, nil
	}
	return defaultServeTiers(), nil
}

func (f *serveFlags) logger(env *cliEnv) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, &usageError{msg: fmt.Sprintf("--log-level: %v", err)}
	}
	ho := &slog.HandlerOptions{Level: lvl}
	switch f.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(env.stderr, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(env.stderr, ho)), nil
	}
	return nil, &usageError{msg: fmt.Sprintf("--log-format %q: want text or json", f.logFormat)}
}

// options turns the flags into server options around the wired app.
func (f *serveFlags) options(a *app, adm *server.Admission, log *slog.Logger) (server.Options, error) {
	opts := server.Options{
		Sandbox: a.sandbox, Admission: adm, Languages: a.langs, Logger: log, Version: version,
		MCP: f.mcp, Runs: a.runs, NewStream: a.newStream,
	}
	if f.maxBody != "" { // only serve has --max-body
		b, err := sandrun.ParseBytes(f.maxBody)
		if err != nil {
			return opts, &usageError{msg: fmt.Sprintf("--max-body: %v", err)}
		}
		opts.MaxBodyBytes = int64(b)
	}
	code, err := sandrun.ParseBytes(f.maxCode)
	if err != nil {
		return opts, &usageError{msg: fmt.Sprintf("--max-code: %v", err)}
	}
	opts.MaxCodeBytes = int(code)
	auth := &server.Auth{}
	if f.tokenFile != "" {
		if err := auth.LoadTokenFile(f.tokenFile); err != nil {
			return opts, err
		}
	}
	if env := os.Getenv("SANDRUN_TOKENS"); env != "" {
		for i, t := range strings.Split(env, ",") {
			if err := auth.AddSecret(fmt.Sprintf("env-%d", i+1), strings.TrimSpace(t)); err != nil {
				return opts, fmt.Errorf("SANDRUN_TOKENS: %w", err)
			}
		}
	}
	opts.Auth = auth
	withConsole(&opts, a, f.console) // console.go
	return opts, nil
}

func cmdServe(ctx context.Context, env *cliEnv, args []string) error {
	var f serveFlags
	a, srv, opts, err := f.newServer(ctx, env, "serve", args)
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "sandrun: serving on http://%s (auth %v)\n", ln.Addr(), opts.Auth.Enabled())
	return srv.Serve(ctx, ln, f.drain)
}

func cmdMCP(ctx context.Context, env *cliEnv, args []string) error {
	var f serveFlags
	a, srv, _, err := f.newServer(ctx, env, "mcp", args)
	if err != nil {
		return err
	}
	defer a.Close()
	return srv.ServeMCPStdio(ctx)
}

// newServer parses args into f (serve's flags, with the HTTP ones, or
// mcp's), wires the app and builds the server on it. The caller closes
// the app; on an error nothing is left open.
func (f *serveFlags) newServer(ctx context.Context, env *cliEnv, name string, args []string) (*app, *server.Server, server.Options, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	http := name == "serve"
	f.register(fs, http)
	if err := fs.Parse(args); err != nil {
		return nil, nil, server.Options{}, &usageError{err: err}
	}
	if http && fs.NArg() > 0 {
		return nil, nil, server.Options{}, &usageError{msg: "serve takes no arguments"}
	}
	log, err := f.logger(env)
	if err != nil {
		return nil, nil, server.Options{}, err
	}
	a, opts, err := f.app(ctx, log)
	if err != nil {
		return nil, nil, server.Options{}, err
	}
	// Refuse before binding: a non-loopback address needs tokens.
	if http {
		err = server.CheckAddr(f.addr, opts.Auth)
	}
	var srv *server.Server
	if err == nil {
		srv, err = server.New(opts)
	}
	if err != nil {
		a.Close()
		return nil, nil, server.Options{}, err
	}
	return a, srv, opts, nil
}

func cmdToken(_ context.Context, env *cliEnv, args []string) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	name := fs.String("name", "default", "the token's name (shows in logs and rate limits)")
	if err := fs.Parse(args); err != nil {
		return &usageError{err: err}
	}
	if strings.ContainsAny(*name, " \t\n") || *name == "" {
		return &usageError{msg: "--name must be one word"}
	}
	secret := server.NewToken()
	fmt.Fprintf(env.stderr, "Give the client this secret (shown once):\n")
	fmt.Fprintln(env.stdout, secret)
	fmt.Fprintf(env.stderr, "Add this line to the --token-file (chmod 600):\n%s %s\n", *name, server.HashToken(secret))
	return nil
}
