package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/termsafe"
	"github.com/sandrun/sandrun/lang"
	"github.com/sandrun/sandrun/session"
	"github.com/sandrun/sandrun/session/sessionhttp"
)

// defaultServer is where `sandrun serve` listens by default.
const defaultServer = "http://127.0.0.1:8770"

// cmdSession drives sessions held by a running `sandrun serve`: a CLI
// process exits after each command, so the session must live in a
// long-lived host process. For a person at a terminal, `sandrun repl`
// holds the session in its own process instead.
func cmdSession(ctx context.Context, env *cliEnv, args []string) error {
	usage := "usage: sandrun session create|run|list|get|close [flags]  (talks to a running `sandrun serve`; see also `sandrun repl`)"
	if len(args) == 0 {
		return &usageError{msg: usage}
	}
	fs := flag.NewFlagSet("session "+args[0], flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	server := fs.String("server", envOr("SANDRUN_SERVER", defaultServer), "the server's base URL (env SANDRUN_SERVER); the bearer token is read from SANDRUN_TOKEN")
	asJSON := fs.Bool("json", false, "print JSON")
	client := func() *sessionhttp.Client {
		return &sessionhttp.Client{BaseURL: *server, Token: os.Getenv("SANDRUN_TOKEN")}
	}
	switch args[0] {
	case "create":
		var sp session.Spec
		fs.StringVar(&sp.Language, "lang", lang.Python, "language: python or javascript")
		fs.StringVar(&sp.Runtime, "runtime", "", "the language's runtime: plain (the default) or data (python with numpy, pandas, matplotlib...)")
		fs.StringVar(&sp.Backend, "backend", "auto", "tier hosting the session")
		fs.Var(durationFlag{&sp.IdleTimeout}, "idle", "close the session after this long without a run (server default 10m)")
		fs.Var(durationFlag{&sp.MaxLifetime}, "lifetime", "close it this long after creation (server default 1h)")
		lim := limitFlags(fs, &sp.Limits)
		network := fs.String("network", "none", "what the session may reach for its whole life: none, or allow:HOST:PORT[,HOST:PORT...] within the server's --network-allow (docs/guide/network.md)")
		if _, err := parseInterspersed(fs, args[1:]); err != nil {
			return helpOK(err)
		}
		if err := lim.check(); err != nil {
			return err
		}
		pol, err := sandrun.ParseNetwork(*network)
		if err != nil {
			return &usageError{msg: "--network: " + err.Error()}
		}
		sp.Network = pol
		in, err := client().Create(ctx, sp)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(env.stdout, in)
		}
		fmt.Fprintln(env.stdout, in.ID)
		return nil
	case "run":
		var code string
		var stepLim sandrun.Limits
		fs.StringVar(&code, "c", "", "the code to run")
		var df displayFlags
		df.register(fs)
		escape := registerEscape(fs)
		// The same limit flags as run; a step may lower --timeout and
		// --output, the others are the session's.
		lim := limitFlags(fs, &stepLim)
		pos, err := parseInterspersed(fs, args[1:])
		if err != nil {
			return helpOK(err)
		}
		if err := lim.check(); err != nil {
			return err
		}
		if len(pos) == 0 {
			return &usageError{msg: "usage: sandrun session run ID [-c CODE | FILE | -]"}
		}
		id := pos[0]
		switch {
		case code != "":
		case len(pos) < 2 || pos[1] == "-":
			b, err := io.ReadAll(io.LimitReader(env.stdin, sandrun.MaxCodeSize+1))
			if err != nil {
				return err
			}
			code = string(b)
		default:
			b, err := readCapped(pos[1], sandrun.MaxCodeSize)
			if err != nil {
				return &usageError{err: err}
			}
			code = string(b)
		}
		res, err := client().Run(ctx, id, session.RunRequest{Code: code, Limits: stepLim})
		if err != nil {
			return err
		}
		if *asJSON {
			if err := printJSON(env.stdout, res); err != nil {
				return err
			}
		} else if err := printHuman(env, res, *escape, &df); err != nil {
			return err
		}
		if c := exitCodeFor(res); c != 0 {
			return &exitError{c}
		}
		return nil
	case "list":
		if err := fs.Parse(args[1:]); err != nil {
			return helpOK(err)
		}
		ls, err := client().List(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(env.stdout, ls)
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tLANGUAGE\tBACKEND\tSTATE\tRUNS\tIDLE\tNOTE")
		for _, in := range ls {
			// The note can quote the program (the exception a step raised).
			note := in.Error
			if escapeAuto.on(env.stdout) {
				note = termsafe.Escape(note)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", in.ID, in.Language, in.Backend, in.State, in.Runs,
				time.Since(in.LastUsed).Round(time.Second), note)
		}
		return tw.Flush()
	case "get", "close":
		pos, err := parseInterspersed(fs, args[1:])
		if err != nil {
			return helpOK(err)
		}
		if len(pos) != 1 {
			return &usageError{msg: "usage: sandrun session " + args[0] + " ID"}
		}
		var in session.Info
		if args[0] == "get" {
			in, err = client().Get(ctx, pos[0])
		} else {
			in, err = client().Close(ctx, pos[0])
		}
		if err != nil {
			return err
		}
		return printJSON(env.stdout, in)
	}
	return &usageError{msg: fmt.Sprintf("unknown session command %q; %s", args[0], usage)}
}

func helpOK(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}
