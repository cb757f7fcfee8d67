//go:build linux

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// term is `sandrun repl` on a pseudo-terminal, driven as a person types.
type term struct {
	t    *testing.T
	f    *os.File
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer // everything the terminal showed
	mark int          // expect looks after this offset
	done chan error
}

func startTerm(t *testing.T, history string, args ...string) *term {
	t.Helper()
	return startTermSized(t, &pty.Winsize{Rows: 40, Cols: 120}, history, args...)
}

func startTermSized(t *testing.T, size *pty.Winsize, history string, args ...string) *term {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"repl", "--history", history}, args...)...)
	cmd.Env = append(os.Environ(), "SANDRUN_TEST_CLI=1", "TERM=xterm", "SANDRUN_AUDIT=off")
	f, err := pty.StartWithSize(cmd, size)
	if err != nil {
		t.Fatal(err)
	}
	tm := &term{t: t, f: f, cmd: cmd, done: make(chan error, 1)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			tm.mu.Lock()
			tm.out.Write(buf[:n])
			tm.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() { tm.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		f.Close()
	})
	return tm
}

func (tm *term) screen() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.out.String()
}

// expect waits until want shows after the mark, moves the mark past it
// and returns what came before it. Generous: the machine may be busy.
func (tm *term) expect(want string) string {
	tm.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		s := tm.screen()
		if i := strings.Index(s[tm.mark:], want); i >= 0 {
			got := s[tm.mark : tm.mark+i]
			tm.mark += i + len(want)
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
	tm.t.Fatalf("the terminal never showed %q; after the mark it shows %q", want, tm.screen()[tm.mark:])
	return ""
}

// prompt waits for a fresh prompt (at the start of a line: the editor
// also redraws the prompt while a line is edited) and returns what the
// terminal showed before it.
func (tm *term) prompt() string {
	tm.t.Helper()
	return tm.expect("\r\n>>> ")
}

// line types a line and checks what the terminal shows before the next
// prompt: the line itself, then want (if any), and nothing else: a
// second prompt would show here.
func (tm *term) line(in, want string) {
	tm.t.Helper()
	tm.typ(in + "\r")
	exp := in
	if want != "" {
		exp += "\r\n" + want
	}
	if got := tm.prompt(); got != exp {
		tm.t.Errorf("%q showed %q, want %q", in, got, exp)
	}
}

func (tm *term) typ(s string) {
	tm.t.Helper()
	if _, err := tm.f.Write([]byte(s)); err != nil {
		tm.t.Fatal(err)
	}
}

// exit waits for the REPL to end and returns its exit code.
func (tm *term) exit() int {
	tm.t.Helper()
	select {
	case err := <-tm.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			tm.t.Fatal(err)
		}
		return 0
	case <-time.After(90 * time.Second):
		tm.t.Fatalf("the REPL did not end; the terminal shows %q", tm.screen())
		return -1
	}
}

// TestReplTerminal types into `sandrun repl --lang python` on a pty:
// values echoed, _ , multi-line blocks, Up-arrow history, a clean
// traceback, Ctrl-C at the prompt and during a step (one prompt after
// each), sys.exit(3) ending the REPL with 3, and the history file kept
// for the next REPL.
func TestReplTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a sandboxed interpreter on a pseudo-terminal")
	}
	history := filepath.Join(t.TempDir(), "history")
	tm := startTerm(t, history, "--lang", "python")
	tm.prompt()

	tm.line("1+1", "2")
	tm.line("None", "")
	tm.line("_ * 21", "42")

	// A block: "..." until a blank line.
	tm.typ("def f(n):\r")
	tm.expect("... ")
	tm.typ("    return n * 2\r")
	tm.expect("... ")
	tm.typ("\r")
	tm.prompt()
	tm.typ("f(21)\r")
	if got := tm.prompt(); !strings.HasSuffix(got, "\r\n42") {
		t.Errorf("f(21) showed %q", got)
	}

	// Up arrow: the last line again, edited with Left and a key.
	tm.typ("\x1b[A")
	tm.expect("f(21)")
	tm.typ("\x1b[D\x1b[D0\r") // f(201)
	if got := tm.prompt(); !strings.HasSuffix(got, "\r\n402") || strings.Contains(got, "^[[") {
		t.Errorf("history recall showed %q", got)
	}

	// A traceback starts at the user's code: no driver frames.
	tm.typ("1/0\r")
	tb := tm.prompt()
	wantTB := "Traceback (most recent call last):\r\n  File \"<stdin>\", line 1, in <module>\r\nZeroDivisionError: division by zero"
	if !strings.HasSuffix(tb, wantTB) {
		t.Errorf("traceback %q, want it to end with %q", tb, wantTB)
	}

	// Ctrl-C at the prompt drops the line: KeyboardInterrupt, one prompt.
	tm.typ("abc\x03")
	if got := tm.prompt(); !strings.HasSuffix(got, "^C\r\nKeyboardInterrupt") {
		t.Errorf("Ctrl-C at the prompt showed %q", got)
	}
	tm.line("2+2", "4") // one prompt after the interrupt, not two

	// Ctrl-C while a step runs interrupts the step only.
	tm.typ("import time; print('sleeping'); time.sleep(60)\r")
	tm.expect("sleeping\r\n")
	time.Sleep(200 * time.Millisecond)
	tm.typ("\x03")
	got := tm.prompt()
	if !strings.HasSuffix(got, "KeyboardInterrupt") || strings.Contains(got, "<string>") || strings.Contains(got, "[sandrun]") {
		t.Errorf("Ctrl-C during a step showed %q", got)
	}
	tm.line("3+3", "6")

	tm.typ("import sys; sys.exit(3)\r")
	if code := tm.exit(); code != 3 {
		t.Errorf("sys.exit(3) ended the REPL with %d; the terminal shows %q", code, tm.screen())
	}
	if strings.Contains(tm.screen(), ">>> >>>") {
		t.Errorf("a double prompt: %q", tm.screen())
	}

	// The history file lets the next REPL recall the last line.
	b, err := os.ReadFile(history)
	if err != nil || !strings.Contains(string(b), "f(201)\n") {
		t.Fatalf("history file: %q %v", b, err)
	}
	tm = startTerm(t, history, "--lang", "python")
	tm.prompt()
	tm.typ("\x1b[A\r")
	if code := tm.exit(); code != 3 {
		t.Errorf("the recalled sys.exit(3) ended the REPL with %d; the terminal shows %q", code, tm.screen())
	}
}

// TestReplTerminalExits: exit(), quit() and Ctrl-D end the REPL with 0.
func TestReplTerminalExits(t *testing.T) {
	if testing.Short() {
		t.Skip("starts sandboxed interpreters on a pseudo-terminal")
	}
	for _, keys := range []string{"exit()\r", "quit()\r", "\x04"} {
		tm := startTerm(t, "", "--lang", "python")
		tm.prompt()
		tm.typ("print('bye')\r")
		tm.expect("bye\r\n")
		tm.expect(">>> ")
		tm.typ(keys)
		if code := tm.exit(); code != 0 {
			t.Errorf("%q ended the REPL with %d; the terminal shows %q", keys, code, tm.screen())
		}
	}
}

// A terminal that reports no width (0 columns: a pty nobody sized, as
// python's pty.fork, `ssh -tt` or `docker exec -t` may give). The line
// editor cannot work there and fell back to reading raw lines while the
// REPL still took Ctrl-C for one of its keys: a pending block ("... ")
// could not be dropped, the SIGINT was lost, and an Up arrow, sent as
// "^[[A", opened a bracket that never closed, so every later line was a
// "... " continuation. Without a width the REPL reads plain lines and
// Ctrl-C is the signal it handles.
func TestReplTerminalWithoutWidth(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a sandboxed interpreter on a pseudo-terminal")
	}
	tm := startTermSized(t, &pty.Winsize{}, "", "--lang", "python")
	tm.expect(">>> ")
	tm.typ("x = [1,\r")
	tm.expect("... ")
	time.Sleep(200 * time.Millisecond)
	tm.typ("\x03")
	tm.expect("KeyboardInterrupt")
	tm.expect(">>> ")
	tm.typ("print(6*7)\r")
	tm.expect("42")
	tm.expect(">>> ")
	tm.typ("import sys; sys.exit(3)\r")
	if code := tm.exit(); code != 3 {
		t.Errorf("sys.exit(3) ended the REPL with %d; the terminal shows %q", code, tm.screen())
	}
}
