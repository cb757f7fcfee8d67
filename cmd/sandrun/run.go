package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/audit"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/internal/termsafe"
	"github.com/sandrun/sandrun/lang"
)

// Exit codes for sandbox verdicts, distinct from the program's own codes
// where possible (documented in the README).
const (
	exitRejected      = 64 // bad request (EX_USAGE)
	exitCompileError  = 65 // EX_DATAERR
	exitInternal      = 70 // EX_SOFTWARE: the sandbox failed
	exitFileSizeLimit = 120
	exitCPULimit      = 121
	exitMemoryLimit   = 122
	exitOutputLimit   = 123
	exitTimeout       = 124 // as timeout(1)
	exitNetworkLimit  = 125
	exitCancelled     = 130 // stopped before it finished (Ctrl-C), as a shell reports SIGINT
)

func exitCodeFor(res *sandrun.Result) int {
	switch res.Status {
	case sandrun.StatusOK:
		return 0
	case sandrun.StatusExitError:
		if res.ExitCode > 0 && res.ExitCode < 256 {
			return res.ExitCode
		}
		return 1
	case sandrun.StatusTimeout:
		return exitTimeout
	case sandrun.StatusCPULimit:
		return exitCPULimit
	case sandrun.StatusMemoryLimit:
		return exitMemoryLimit
	case sandrun.StatusOutputLimit:
		return exitOutputLimit
	case sandrun.StatusNetworkLimit:
		return exitNetworkLimit
	case sandrun.StatusFileSizeLimit:
		return exitFileSizeLimit
	case sandrun.StatusSignaled:
		if n, ok := signalNumber(res.Signal); ok {
			return 128 + n
		}
		return 128
	case sandrun.StatusCompileError:
		return exitCompileError
	case sandrun.StatusRejected:
		return exitRejected
	case sandrun.StatusCancelled:
		return exitCancelled
	}
	return exitInternal
}

func signalNumber(name string) (int, bool) {
	for i := 1; i < 65; i++ {
		if syscall.Signal(i).String() != "" && sigName(syscall.Signal(i)) == name {
			return i, true
		}
	}
	return 0, false
}

// runFlags are the flags that build a Request, shared by run and session run.
type runFlags struct {
	code, lang, backend, stdin, stdinFile string
	files, env, collect                   listFlag
	network                               string
	limits                                sandrun.Limits
	limitInput                            *limitInput
	noSanitize                            bool
	runtime                               string
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.code, "c", "", "the code to run")
	fs.StringVar(&f.lang, "lang", "", "language: python, javascript, bash, starlark (default: from the file extension)")
	fs.StringVar(&f.runtime, "runtime", "auto", "the language's runtime: auto (by the modules the code imports), plain, or data (python with numpy, pandas, matplotlib...)")
	fs.StringVar(&f.backend, "backend", "auto", "tier: auto, restricted, process, jail, docker, gvisor, kubernetes")
	fs.StringVar(&f.stdin, "stdin", "", "text fed to the program's standard input")
	fs.StringVar(&f.stdinFile, "stdin-file", "", "file fed to the program's standard input")
	fs.Var(&f.files, "file", "NAME=PATH: copy a host file into the work directory as NAME (repeatable)")
	fs.Var(&f.env, "env", "NAME=VALUE: add a variable to the program's environment (repeatable)")
	fs.Var(&f.collect, "collect", "GLOB: return matching files from the work directory after the run (repeatable)")
	fs.BoolVar(&f.noSanitize, "no-sanitize", false, "return raw output: do not redact secrets")
	fs.StringVar(&f.network, "network", "none", "none, or allow:HOST:PORT[,HOST:PORT...] (HOST: a name, *.domain, or a CIDR); traffic goes through a proxy outside the sandbox (docs/guide/network.md)")
	f.limitInput = limitFlags(fs, &f.limits)
}

// request builds the Request from the flags and the positional argument
// (FILE, "-" for standard input, or nothing with -c).
func (f *runFlags) request(stdin io.Reader, pos []string) (*sandrun.Request, error) {
	if err := f.limitInput.check(); err != nil {
		return nil, err
	}
	req := &sandrun.Request{
		Language: f.lang, Backend: f.backend, Limits: f.limits,
		Collect: f.collect, NoSanitize: f.noSanitize, Stdin: f.stdin, Runtime: f.runtime,
	}
	var args []string
	switch {
	case f.code != "":
		req.Code, args = f.code, pos
	case len(pos) == 0:
		return nil, &usageError{msg: "nothing to run: give FILE, -c CODE, or - to read the code from standard input"}
	case pos[0] == "-":
		b, err := io.ReadAll(io.LimitReader(stdin, sandrun.MaxCodeSize+1))
		if err != nil {
			return nil, fmt.Errorf("reading code from standard input: %w", err)
		}
		req.Code, args = string(b), pos[1:]
	default:
		b, err := readCapped(pos[0], sandrun.MaxCodeSize+1)
		if err != nil {
			return nil, &usageError{err: err}
		}
		req.Code, args = string(b), pos[1:]
		if req.Language == "" {
			req.Language = lang.ByExtension(pos[0])
			if req.Language == "" {
				return nil, &usageError{msg: fmt.Sprintf("cannot tell the language of %q from its extension; pass --lang", pos[0])}
			}
		}
	}
	req.Args = args
	pol, err := sandrun.ParseNetwork(f.network)
	if err != nil {
		return nil, &usageError{msg: "--network: " + err.Error()}
	}
	req.Network = pol
	if req.Language == "" {
		return nil, &usageError{msg: "--lang is required with -c or -"}
	}
	if f.stdinFile != "" {
		b, err := readCapped(f.stdinFile, 16<<20)
		if err != nil {
			return nil, &usageError{err: err}
		}
		req.Stdin = string(b)
	}
	for _, spec := range f.files {
		name, p, ok := strings.Cut(spec, "=")
		if !ok || name == "" || p == "" {
			return nil, &usageError{msg: fmt.Sprintf("--file %q: want NAME=PATH", spec)}
		}
		b, err := readCapped(p, 16<<20)
		if err != nil {
			return nil, &usageError{msg: fmt.Sprintf("--file %s: %v", name, err)}
		}
		req.Files = append(req.Files, sandrun.InputFile{Name: name, Content: encodeContent(b), Encoding: "base64"})
	}
	for _, kv := range f.env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, &usageError{msg: fmt.Sprintf("--env %q: want NAME=VALUE", kv)}
		}
		if req.Env == nil {
			req.Env = map[string]string{}
		}
		req.Env[k] = v
	}
	return req, nil
}

func readCapped(p string, max int64) ([]byte, error) {
	fh, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, max)
	}
	return b, nil
}

func cmdRun(ctx context.Context, env *cliEnv, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintln(env.stderr, "usage: sandrun run [FILE | -c CODE | -] [flags] [-- ARGS...]")
		fs.PrintDefaults()
	}
	var rf runFlags
	rf.register(fs)
	var gf guardFlags
	gf.register(fs)
	var nf networkFlags
	nf.register(fs)
	var df displayFlags
	df.register(fs)
	asJSON := fs.Bool("json", false, "print the full Result as JSON instead of the program's output")
	escape := registerEscape(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	req, err := rf.request(env.stdin, pos)
	if err != nil {
		return err
	}
	req.FigureFormats = df.formats
	var cfg config
	if err := gf.apply(&cfg); err != nil {
		return err
	}
	if cfg.network, err = nf.operator(req); err != nil {
		return err
	}
	cfg.prefetch = []string{lang.Normalize(req.Language)}
	// auto tries the jail first: its init is cloned while the other tiers,
	// the audit log and the sanitizer are built.
	cfg.jailSpawnAhead = req.Backend == "" || req.Backend == "auto" || req.Backend == jail.Name
	cfg.oneShot = true
	a, err := newApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	a.exiting = env.exits
	a.warmAudit()
	res, runErr := a.sandbox.Run(audit.WithCaller(ctx, localCaller()), req)
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else if err := printHuman(env, res, *escape, &df); err != nil {
		return err
	}
	_ = runErr // the Result carries the status and message
	if code := exitCodeFor(res); code != 0 {
		return &exitError{code}
	}
	return nil
}

// verdictLine is the one-line summary printed to stderr in human mode.
// Messages are escaped: an error can quote what the program wrote.
func verdictLine(res *sandrun.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", termsafe.VerdictPrefix, res.Status)
	if res.Error != "" && res.Status != sandrun.StatusOK {
		fmt.Fprintf(&b, ": %s", termsafe.Escape(res.Error))
	}
	fmt.Fprintf(&b, " (backend %s, %d ms", orDash(res.Backend), res.Usage.WallMs)
	if res.ExitCode >= 0 {
		fmt.Fprintf(&b, ", exit %d", res.ExitCode)
	}
	if n := len(res.Detections); n > 0 {
		total := 0
		for _, d := range res.Detections {
			total += d.Count
		}
		fmt.Fprintf(&b, ", %d redactions", total)
	}
	b.WriteString(")")
	for _, w := range res.Warnings {
		fmt.Fprintf(&b, "\n%s warning: %s", termsafe.VerdictPrefix, termsafe.Escape(w))
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
