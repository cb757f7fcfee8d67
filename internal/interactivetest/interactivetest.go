// Package interactivetest checks that a backend runs a program
// interactively (sandrun.Request.Input and Signals): the same checks for
// every tier that implements sandrun.Interactive.
package interactivetest

import (
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/lang"
)

// RunFunc runs a request on the backend under test (bash must be
// available). Check gives every request a generous wall-clock limit.
type RunFunc func(t *testing.T, req *sandrun.Request) *sandrun.Result

// Check runs the checks: input that arrives only after the program
// answered earlier input, end of input, and a signal the program traps.
func Check(t *testing.T, run RunFunc) {
	t.Run("input as it comes", func(t *testing.T) {
		out := &watcher{}
		pr, pw := io.Pipe()
		defer pr.Close()
		req := &sandrun.Request{Language: lang.Bash, Code: "echo ready\nread a\necho \"got $a\"\nread b\necho \"got $b\"\n", Input: pr, OnOutput: out.add}
		go func() {
			// Each line is sent only once the program answered the one
			// before: the program cannot have had it at the start.
			if out.wait("ready\n") {
				_, _ = pw.Write([]byte("one\n"))
			}
			if out.wait("got one\n") {
				_, _ = pw.Write([]byte("two\n"))
			}
		}()
		res := run(t, slow(req))
		pw.Close()
		if res.Status != sandrun.StatusOK || res.Stdout != "ready\ngot one\ngot two\n" {
			t.Errorf("status %s stdout %q stderr %q (%s)", res.Status, res.Stdout, res.Stderr, res.Error)
		}
	})
	t.Run("end of input", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pr.Close()
		go func() {
			_, _ = pw.Write([]byte("abc"))
			pw.Close()
		}()
		res := run(t, slow(&sandrun.Request{Language: lang.Bash, Code: "cat; echo :end", Stdin: "x-", Input: pr}))
		if res.Status != sandrun.StatusOK || res.Stdout != "x-abc:end\n" {
			t.Errorf("status %s stdout %q (%s)", res.Status, res.Stdout, res.Error)
		}
	})
	t.Run("signal", func(t *testing.T) {
		out := &watcher{}
		sigs := make(chan os.Signal, 1)
		req := &sandrun.Request{Language: lang.Bash, Code: "trap 'echo term; exit 7' TERM\necho ready\nwhile true; do sleep 0.05; done",
			Signals: sigs, OnOutput: out.add}
		go func() {
			if out.wait("ready\n") {
				sigs <- syscall.SIGTERM
			}
		}()
		res := run(t, slow(req))
		if res.ExitCode != 7 || res.Stdout != "ready\nterm\n" {
			t.Errorf("status %s exit %d stdout %q (%s)", res.Status, res.ExitCode, res.Stdout, res.Error)
		}
	})
}

// slow gives a request a minute: the checks wait on a loaded machine.
func slow(req *sandrun.Request) *sandrun.Request {
	req.Limits.WallTime = sandrun.Duration(time.Minute)
	return req
}

// watcher collects stdout as it comes and lets a goroutine wait for text.
type watcher struct {
	mu  sync.Mutex
	out strings.Builder
}

func (w *watcher) add(stream string, b []byte) {
	if stream == "stdout" {
		w.mu.Lock()
		w.out.Write(b)
		w.mu.Unlock()
	}
}

// wait polls until the output has text, for at most a minute (a loaded
// machine); false when it never came.
func (w *watcher) wait(text string) bool {
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		w.mu.Lock()
		ok := strings.Contains(w.out.String(), text)
		w.mu.Unlock()
		if ok {
			return true
		}
	}
	return false
}
