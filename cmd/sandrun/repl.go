package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/termsafe"
	"github.com/sandrun/sandrun/lang"
	"github.com/sandrun/sandrun/server"
	"github.com/sandrun/sandrun/session"
)

// sessionLaunchers returns the app's backends that can host sessions, in
// the Sandbox's preference order.
func sessionLaunchers(a *app) (map[string]sandrun.Launcher, []string) {
	ls := map[string]sandrun.Launcher{}
	var order []string
	for _, b := range a.sandbox.Backends() {
		if l, ok := b.(sandrun.Launcher); ok {
			ls[b.Name()] = l
			order = append(order, b.Name())
		}
	}
	return ls, order
}

// cmdRepl is a session for a person at a terminal: this process holds the
// session for as long as the REPL runs, so no server is needed. Each block
// runs as an interactive step (values echoed, exit ends the REPL with its
// code); on a terminal, lines are read with a line editor (repl_input.go).
func cmdRepl(ctx context.Context, env *cliEnv, args []string) error {
	fs := flag.NewFlagSet("repl", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	language := fs.String("lang", lang.Python, "language: python, javascript or starlark")
	backend := fs.String("backend", "auto", "tier hosting the session: auto, jail, process")
	history := fs.String("history", defaultHistoryPath(os.Getenv), `file the line editor keeps its history in ("": none)`)
	var lim sandrun.Limits
	limIn := limitFlags(fs, &lim)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &usageError{err: err}
	}
	if err := limIn.check(); err != nil {
		return err
	}
	// Ctrl-C interrupts a step, never the REPL; main cancels ctx on the
	// first SIGINT, so nothing here hangs on it. SIGTERM and SIGHUP end
	// the REPL (its deferred cleanup closes the session).
	base := context.WithoutCancel(ctx)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(term)

	a, err := newApp(base, config{})
	if err != nil {
		return err
	}
	defer a.Close()
	ls, order := sessionLaunchers(a)
	if *backend != "" && *backend != "auto" {
		order = []string{*backend}
	} else {
		// auto: the first backend that can run the language here.
		for i, n := range order {
			if b, _ := a.sandbox.Backend(n); b != nil && b.Check(base, sandrun.NormalizeLanguage(*language)) == nil {
				order = order[i:]
				break
			}
		}
	}
	m, err := session.New(session.Options{Sandbox: a.sandbox, Launchers: ls, Order: order, MaxSessions: 1})
	if err != nil {
		return err
	}
	defer m.Shutdown()
	in, err := m.Create(base, session.Spec{Language: *language, Backend: order[0], Limits: lim, IdleTimeout: sandrun.Duration(time.Hour)})
	if err != nil {
		return err
	}
	src := newLineSource(env, *history)
	defer src.close()
	fmt.Fprintf(env.stderr, "sandrun repl: %s session on %s (memory %s, %s per step). Ctrl-C interrupts; Ctrl-D or .exit leaves.\n",
		in.Language, in.Backend, in.Limits.Memory, in.Limits.WallTime)
	r := &repl{m: m, id: in.ID, env: env, sigs: sigs, stream: a.newStream}
	return r.loop(src, term)
}

type repl struct {
	m    *session.Manager
	id   string
	env  *cliEnv
	sigs chan os.Signal
	// stream is the sanitizer's streaming filter (nil: output is shown
	// when the step ends).
	stream server.NewStreamFunc
}

// errInterrupted is a Ctrl-C at the prompt.
var errInterrupted = errors.New("interrupted")

// loop reads blocks and runs them until the input ends, the program
// exits (its code is the REPL's) or a signal ends the REPL.
func (r *repl) loop(src lineSource, term <-chan os.Signal) error {
	var block []string
	for {
		prompt := ">>> "
		if len(block) > 0 {
			prompt = "... "
		}
		// A terminal's Ctrl-C at the editor's prompt is a key, not a
		// signal; with plain input it is a signal.
		var intr <-chan os.Signal
		if !src.editing() {
			intr = r.sigs
		}
		var res lineResult
		select {
		case r, ok := <-src.read(prompt):
			res = r
			if !ok {
				res.err = io.EOF
			}
		case <-intr:
			res.err = errInterrupted
		case <-term:
			fmt.Fprintln(r.env.stderr)
			return nil
		}
		switch {
		case errors.Is(res.err, errInterrupted):
			// One new prompt after it, as python prints.
			if !src.editing() {
				fmt.Fprintln(r.env.stderr)
			}
			fmt.Fprintln(r.env.stderr, "KeyboardInterrupt")
			block = nil
			continue
		case errors.Is(res.err, io.EOF):
			fmt.Fprintln(r.env.stderr)
			return nil
		case res.err != nil:
			return res.err
		}
		line := res.line
		if len(block) == 0 && strings.TrimSpace(line) == ".exit" {
			return nil
		}
		block = append(block, line)
		if continues(block) {
			continue
		}
		code := strings.Join(block, "\n")
		block = nil
		if strings.TrimSpace(code) == "" {
			continue
		}
		if err := r.step(code); err != nil {
			return err
		}
	}
}

// step runs one block as an interactive step; Ctrl-C interrupts it.
// Output streams as it comes, through the sanitizer's streaming filter.
// It returns an *exitError when the session is over.
func (r *repl) step(code string) error {
	// A stray interrupt from before the step must not cancel it.
	select {
	case <-r.sigs:
	default:
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan struct{})
	var interrupted atomic.Bool
	go func() {
		select {
		case <-r.sigs:
			interrupted.Store(true)
			cancel()
		case <-stop:
		}
	}()
	req := session.RunRequest{Code: code, Interactive: true}
	var filter server.StreamFilter
	if r.stream != nil {
		// What the program writes reaches the person's terminal: escaped
		// there (printHuman's rules; chunk by chunk while it streams).
		filter = r.stream(func(stream, text string) {
			w := r.env.stdout
			if stream == "stderr" {
				w = r.env.stderr
			}
			if escapeAuto.on(w) {
				text = termsafe.Escape(text)
			}
			io.WriteString(w, text)
		})
		req.OnOutput = filter.Write
	}
	res, err := r.m.Run(ctx, r.id, req)
	close(stop)
	if filter != nil {
		filter.Close()
	}
	if err != nil {
		fmt.Fprintf(r.env.stderr, "[sandrun] %v\n", err)
		if errors.Is(err, session.ErrDead) {
			return &exitError{1}
		}
		return nil
	}
	if filter == nil {
		writeProgram(r.env.stdout, []byte(res.Stdout), escapeAuto.on(r.env.stdout))
		writeProgram(r.env.stderr, []byte(res.Stderr), escapeAuto.on(r.env.stderr))
	}
	if res.StdoutTruncated || res.StderrTruncated {
		fmt.Fprintln(r.env.stderr, "[sandrun] output truncated at the per-step cap")
	}
	info, gerr := r.m.Get(r.id)
	over := gerr == nil && info.State == session.StateDead
	switch {
	case over && res.Signal == "" && (res.Status == sandrun.StatusExitError || res.Status == sandrun.StatusOK):
		// The program exited (sys.exit, exit(), process.exit): the REPL
		// ends with its code, as python's does.
		return &exitError{res.ExitCode}
	case res.Status == sandrun.StatusOK, res.Status == sandrun.StatusExitError, res.Status == sandrun.StatusCompileError:
		// The traceback already says it.
	case interrupted.Load() && !over:
		// Ctrl-C: the KeyboardInterrupt traceback says it.
	default:
		fmt.Fprintf(r.env.stderr, "[sandrun] %s: %s\n", res.Status, termsafe.Escape(res.Error))
	}
	if over {
		fmt.Fprintf(r.env.stderr, "[sandrun] the session is over: %s\n", termsafe.Escape(info.Error))
		return &exitError{max(1, res.ExitCode)}
	}
	return nil
}

// continues says whether a block needs more lines, as python's REPL
// decides: while a bracket or a triple-quoted string is open or a line
// ends with a backslash; and, once a line opened a compound statement
// (it ends with ":"), until a blank line.
func continues(block []string) bool {
	sc := blockScan(block)
	if sc.depth > 0 || sc.inString || sc.backslash {
		return true
	}
	return sc.compound && strings.TrimSpace(block[len(block)-1]) != ""
}

type scan struct {
	depth     int
	inString  bool
	backslash bool
	compound  bool
}

// blockScan tracks brackets, strings (single, double, triple quotes and
// backticks) and '#' comments across the block's lines. It is a
// heuristic for any of sandrun's languages, not a parser: the
// interpreter has the last word.
func blockScan(block []string) scan {
	var s scan
	var quote string // the open string's delimiter
	for _, line := range block {
		s.backslash = false
		code := []rune(line)
		for i := 0; i < len(code); i++ {
			c := code[i]
			if quote != "" {
				switch {
				case c == '\\':
					i++
				case strings.HasPrefix(string(code[i:]), quote):
					i += len(quote) - 1
					quote = ""
				}
				continue
			}
			switch c {
			case '#':
				// A comment when it starts a word (not this.#field).
				if i == 0 || code[i-1] == ' ' || code[i-1] == '\t' {
					i = len(code)
				}
			case '\'', '"', '`':
				q := string(c)
				if strings.HasPrefix(string(code[i:]), strings.Repeat(q, 3)) {
					q = strings.Repeat(q, 3)
				}
				quote = q
				i += len(q) - 1
			case '(', '[', '{':
				s.depth++
			case ')', ']', '}':
				s.depth--
			}
		}
		// A single-quoted string does not run past its line (except a
		// backtick template).
		if quote == "'" || quote == `"` {
			quote = ""
		}
		t := strings.TrimRight(stripComment(line), " \t")
		if quote == "" && strings.HasSuffix(t, "\\") {
			s.backslash = true
		}
		if quote == "" && s.depth == 0 && strings.HasSuffix(t, ":") {
			s.compound = true
		}
	}
	s.inString = quote != ""
	return s
}

// stripComment cuts a trailing '#' comment that starts a word, outside
// quotes (enough for the trailing-colon and backslash checks).
func stripComment(line string) string {
	var quote rune
	prev := ' '
	for i, c := range line {
		switch {
		case quote != 0:
			if c == quote && prev != '\\' {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '#' && (prev == ' ' || prev == '\t' || i == 0):
			return line[:i]
		}
		prev = c
	}
	return line
}
