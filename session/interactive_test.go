package session_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/session"
)

func line(t *testing.T, m *session.Manager, id, code string) *sandrun.Result {
	t.Helper()
	res, err := m.Run(context.Background(), id, session.RunRequest{Code: code, Interactive: true})
	if err != nil {
		t.Fatalf("run %q: %v", code, err)
	}
	return res
}

// TestInteractiveEcho: a REPL line echoes expression values as python's
// and node's REPLs do, keeps the last one in _, and prints tracebacks
// without the driver's frames.
func TestInteractiveEcho(t *testing.T) {
	forEach(t, func(t *testing.T, b string) {
		m := newManager(t, b, nil)
		t.Run("python", func(t *testing.T) {
			id := create(t, m, session.Spec{Language: "python"})
			want(t, line(t, m, id, "1+1"), sandrun.StatusOK, "2\n")
			want(t, line(t, m, id, "_ * 10"), sandrun.StatusOK, "20\n")
			want(t, line(t, m, id, "None"), sandrun.StatusOK, "")
			if res := line(t, m, id, "x = 'a'"); res.Stdout != "" {
				t.Fatalf("an assignment echoed %q", res.Stdout)
			}
			want(t, line(t, m, id, "x\nfor i in range(2):\n    i\n"), sandrun.StatusOK, "'a'\n0\n1\n")
			// A step that is not interactive echoes nothing.
			want(t, run(t, m, id, "1+1"), sandrun.StatusOK, "")

			res := line(t, m, id, "def f():\n    return 1/0\nf()")
			want(t, res, sandrun.StatusExitError, "")
			wantTB := "Traceback (most recent call last):\n" +
				"  File \"<stdin>\", line 3, in <module>\n" +
				"  File \"<stdin>\", line 2, in f\n" +
				"ZeroDivisionError: division by zero\n"
			if res.Stderr != wantTB {
				t.Fatalf("traceback\n%s\nwant\n%s", res.Stderr, wantTB)
			}
			res = line(t, m, id, "1 +")
			want(t, res, sandrun.StatusCompileError, "")
			if strings.Contains(res.Stderr, "Traceback") || !strings.Contains(res.Stderr, "File \"<stdin>\", line 1") ||
				!strings.HasSuffix(res.Stderr, "SyntaxError: invalid syntax\n") {
				t.Fatalf("syntax error printed as\n%s", res.Stderr)
			}
			// Interrupted: KeyboardInterrupt from the user's frame, not the
			// driver's signal handler.
			res, err := m.Run(context.Background(), id, session.RunRequest{Code: "while True:\n    pass", Interactive: true, Timeout: sandrun.Duration(300 * time.Millisecond)})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != sandrun.StatusTimeout || !strings.HasSuffix(res.Stderr, "KeyboardInterrupt\n") ||
				strings.Contains(res.Stderr, "_on_sigint") || strings.Contains(res.Stderr, "<string>") {
				t.Fatalf("interrupted step: %s %q", res.Status, res.Stderr)
			}
		})
		t.Run("javascript", func(t *testing.T) {
			id := create(t, m, session.Spec{Language: "javascript"})
			want(t, line(t, m, id, "1+1"), sandrun.StatusOK, "2\n")
			want(t, line(t, m, id, "_ * 10"), sandrun.StatusOK, "20\n")
			want(t, line(t, m, id, "var y = 3"), sandrun.StatusOK, "")
			want(t, line(t, m, id, "({a: [y]})"), sandrun.StatusOK, "{ a: [ 3 ] }\n")
			res := line(t, m, id, "function g() { throw new Error('boom') }\ng()")
			if res.Status != sandrun.StatusExitError || !strings.HasPrefix(res.Stderr, "Error: boom\n    at g (<stdin>:1:") ||
				strings.Contains(res.Stderr, "node:vm") || strings.Contains(res.Stderr, "[eval]") {
				t.Fatalf("stack %q", res.Stderr)
			}
		})
	})
}

// TestInteractiveExit: in a REPL line, sys.exit(n), exit() and
// process.exit(n) end the interpreter with that code (the session is then
// dead and the step's result carries the code), after the step's output.
func TestInteractiveExit(t *testing.T) {
	forEach(t, func(t *testing.T, b string) {
		m := newManager(t, b, nil)
		for _, c := range []struct {
			lang, code string
			exit       int
		}{
			{"python", "print('bye')\nimport sys\nsys.exit(3)", 3},
			{"python", "print('bye')\nexit()", 0},
			{"python", "print('bye')\nquit(5)", 5},
			{"javascript", "console.log('bye'); process.exit(4)", 4},
		} {
			id := create(t, m, session.Spec{Language: c.lang})
			res := line(t, m, id, c.code)
			in, err := m.Get(id)
			if err != nil {
				t.Fatal(err)
			}
			if res.Stdout != "bye\n" || res.ExitCode != c.exit || res.Signal != "" || in.State != session.StateDead {
				t.Errorf("%s %q: stdout %q stderr %q exit %d signal %q state %s (%s)", c.lang, c.code, res.Stdout, res.Stderr, res.ExitCode, res.Signal, in.State, res.Error)
			}
		}
	})
}
