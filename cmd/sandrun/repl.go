package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/termsafe"
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
// session for as long as the REPL runs, so no server is needed.
func cmdRepl(ctx context.Context, env *cliEnv, args []string) error {
	fs := flag.NewFlagSet("repl", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	lang := fs.String("lang", "python", "language: python or javascript")
	backend := fs.String("backend", "auto", "tier hosting the session: auto, jail, process")
	var lim sandrun.Limits
	limitFlags(fs, &lim)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &usageError{err.Error()}
	}
	a, err := newApp(ctx, config{})
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
			if b, _ := a.sandbox.Backend(n); b != nil && b.Check(ctx, sandrun.NormalizeLanguage(*lang)) == nil {
				order = order[i:]
				break
			}
		}
	}
	m, err := session.New(session.Options{Launchers: ls, Order: order, MaxSessions: 1})
	if err != nil {
		return err
	}
	defer m.Shutdown()
	in, err := m.Create(ctx, session.Spec{Language: *lang, Backend: order[0], Limits: lim, IdleTimeout: sandrun.Duration(time.Hour)})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "sandrun repl: %s session on %s (memory %s, %s per step). Ctrl-C interrupts a step; Ctrl-D or .exit leaves.\n",
		in.Language, in.Backend, in.Limits.Memory, in.Limits.WallTime)

	// Ctrl-C interrupts the running step, not the REPL.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(env.stdin)
		sc.Buffer(make([]byte, 1<<20), sandrun.MaxCodeSize)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var block []string
	prompt := func() {
		if len(block) == 0 {
			fmt.Fprint(env.stderr, ">>> ")
		} else {
			fmt.Fprint(env.stderr, "... ")
		}
	}
	prompt()
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGTERM {
				return nil
			}
			block = nil
			fmt.Fprintln(env.stderr, "\nKeyboardInterrupt")
			prompt()
			continue
		case line, ok := <-lines:
			if !ok {
				fmt.Fprintln(env.stderr)
				return nil
			}
			if len(block) == 0 && strings.TrimSpace(line) == ".exit" {
				return nil
			}
			block = append(block, line)
			if continues(block) {
				prompt()
				continue
			}
			code := strings.Join(block, "\n")
			block = nil
			if strings.TrimSpace(code) != "" {
				if done := replStep(m, in.ID, code, env, sigs); done {
					return nil
				}
			}
			prompt()
		}
	}
}

// continues says whether a block needs more lines: after a line that
// opens a block (":" in python, an open bracket), until a blank line.
func continues(block []string) bool {
	last := block[len(block)-1]
	if len(block) > 1 {
		return strings.TrimSpace(last) != ""
	}
	t := strings.TrimRight(last, " \t")
	depth := 0
	for _, r := range t {
		switch r {
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
		}
	}
	return strings.HasSuffix(t, ":") || strings.HasSuffix(t, "\\") || depth > 0
}

// replStep runs one step, letting Ctrl-C interrupt it. It returns true
// when the session is over.
func replStep(m *session.Manager, id, code string, env *cliEnv, sigs chan os.Signal) bool {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-stop:
		}
	}()
	// Output is shown when the step ends, after the sanitizer (when one is
	// configured) has seen it.
	res, err := m.Run(ctx, id, session.RunRequest{Code: code})
	if err != nil {
		fmt.Fprintf(env.stderr, "[sandrun] %v\n", err)
		return errors.Is(err, session.ErrDead)
	}
	// The step's output reaches the person's terminal: escaped there
	// (printHuman's rules), as it is into a pipe.
	writeProgram(env.stdout, []byte(res.Stdout), escapeAuto.on(env.stdout))
	writeProgram(env.stderr, []byte(res.Stderr), escapeAuto.on(env.stderr))
	if res.StdoutTruncated || res.StderrTruncated {
		fmt.Fprintln(env.stderr, "[sandrun] output truncated at the per-step cap")
	}
	switch res.Status {
	case sandrun.StatusOK, sandrun.StatusExitError, sandrun.StatusCompileError:
		// The traceback already says it.
	default:
		fmt.Fprintf(env.stderr, "[sandrun] %s: %s\n", res.Status, termsafe.Escape(res.Error))
	}
	if info, err := m.Get(id); err == nil && info.State == session.StateDead {
		fmt.Fprintf(env.stderr, "[sandrun] the session is over: %s\n", termsafe.Escape(info.Error))
		return true
	}
	return false
}
