package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/peterh/liner"
	xterm "golang.org/x/term"
)

// The REPL's input: on a terminal, a line editor; otherwise plain lines
// (a pipe, a file, a test).
//
// The line editor is github.com/peterh/liner: maintained (v1.2.3, 2026),
// pure Go, small (one dependency, go-runewidth), with history (Up/Down,
// Ctrl-R search, a history file), emacs-style editing and, with
// SetCtrlCAborts, Ctrl-C at the prompt as an error the REPL turns into
// python's "KeyboardInterrupt" and a single new prompt. It keeps the
// terminal's signal keys on between prompts, so a Ctrl-C while a step
// runs is a SIGINT that interrupts the step. golang.org/x/term's Terminal
// was the other candidate: it reports Ctrl-C as io.EOF (the same as
// Ctrl-D, which would end the REPL) and keeps the terminal raw while the
// program's output is written. chzyer/readline has had no release since
// 2022; ergochat/readline is not on the module proxy.

// lineResult is one line read, or why none was.
type lineResult struct {
	line string
	err  error
}

// lineSource is where the REPL gets its lines.
type lineSource interface {
	// read shows prompt and delivers the next line (io.EOF at the end,
	// errInterrupted for a Ctrl-C the editor read as a key); a closed
	// channel means the input is over.
	read(prompt string) <-chan lineResult
	// editing says whether a line editor reads the terminal (Ctrl-C at
	// the prompt is then a key, not a signal).
	editing() bool
	// close restores the terminal and saves the history.
	close()
}

// newLineSource picks the line editor when the REPL's stdin and stdout
// are the process's terminal, plain lines otherwise.
func newLineSource(env *cliEnv, history string) lineSource {
	if env.stdin == io.Reader(os.Stdin) && env.stdout == io.Writer(os.Stdout) && isTerminal(os.Stdin) && isTerminal(os.Stdout) {
		// liner edits only on a terminal wide enough for the prompt and
		// ten columns; on a narrower one (a pty nobody sized reports 0)
		// it reads raw lines while the REPL would still take Ctrl-C for
		// its key, and the SIGINT would be lost.
		if w, _, err := xterm.GetSize(int(os.Stdout.Fd())); err == nil && w >= minEditorColumns {
			return newEditor(history)
		}
		fmt.Fprintln(env.stderr, "sandrun repl: the terminal reports no width, so line editing is off (`stty cols 80` sets one)")
	}
	p := &plainLines{w: env.stderr, lines: make(chan lineResult), done: make(chan struct{})}
	go p.scan(env.stdin)
	return p
}

// minEditorColumns is the narrowest terminal liner edits on: the prompt
// (4 columns) and 10 more.
const minEditorColumns = 14

// isTerminal reports whether f is a terminal: a character device that
// liner can put into raw mode (for stdin) or size (for stdout).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	if f == os.Stdin {
		_, err := liner.TerminalMode()
		return err == nil
	}
	return true
}

// plainLines reads lines from a non-terminal; the prompt goes to stderr
// so stdout holds only the program's output.
type plainLines struct {
	w     io.Writer
	lines chan lineResult // closed after the end (or a read error) is sent
	done  chan struct{}
}

func (p *plainLines) scan(r io.Reader) {
	defer close(p.lines)
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if line != "" && !p.send(lineResult{line: strings.TrimRight(line, "\r\n")}) {
			return
		}
		if err != nil {
			p.send(lineResult{err: err})
			return
		}
	}
}

func (p *plainLines) send(r lineResult) bool {
	select {
	case p.lines <- r:
		return true
	case <-p.done:
		return false
	}
}

func (p *plainLines) read(prompt string) <-chan lineResult {
	fmt.Fprint(p.w, prompt)
	return p.lines
}

func (p *plainLines) editing() bool { return false }
func (p *plainLines) close()        { close(p.done) }

// editor is the terminal's line editor.
type editor struct {
	st      *liner.State
	history string
}

func newEditor(history string) *editor {
	e := &editor{st: liner.NewLiner(), history: history}
	e.st.SetCtrlCAborts(true)
	// Tab indents, as in python's REPL on a blank line; there is no
	// completion (the names live in the sandboxed interpreter).
	e.st.SetWordCompleter(func(line string, pos int) (string, []string, string) {
		r := []rune(line)
		return string(r[:pos]), []string{"    "}, string(r[pos:])
	})
	if history != "" {
		if f, err := os.Open(history); err == nil {
			_, _ = e.st.ReadHistory(f)
			f.Close()
		}
	}
	return e
}

func (e *editor) read(prompt string) <-chan lineResult {
	// The REPL waits for the answer (or ends), so one prompt at a time.
	ch := make(chan lineResult, 1)
	go func() {
		line, err := e.st.Prompt(prompt)
		switch {
		case errors.Is(err, liner.ErrPromptAborted):
			err = errInterrupted
		case err == nil && strings.TrimSpace(line) != "":
			e.st.AppendHistory(line)
		}
		ch <- lineResult{line, err}
	}()
	return ch
}

func (e *editor) editing() bool { return true }

func (e *editor) close() {
	if e.history != "" {
		if err := os.MkdirAll(filepath.Dir(e.history), 0o700); err == nil {
			if f, err := os.OpenFile(e.history, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err == nil {
				_, _ = e.st.WriteHistory(f)
				f.Close()
			}
		}
	}
	_ = e.st.Close()
}

// defaultHistoryPath is the REPL's history file in the user's state
// directory: $XDG_STATE_HOME/sandrun/repl_history, else
// ~/.local/state/sandrun/repl_history ("" when there is no home).
func defaultHistoryPath(getenv func(string) string) string {
	if d := getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "sandrun", "repl_history")
	}
	if h := getenv("HOME"); h != "" && filepath.IsAbs(h) {
		return filepath.Join(h, ".local", "state", "sandrun", "repl_history")
	}
	return ""
}
