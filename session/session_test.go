package session_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/racebuild"
	"github.com/sandrun/sandrun/session"
	"github.com/sandrun/sandrun/session/sessiontest"
)

func newManager(t *testing.T, backend string, mod func(*session.Options)) *session.Manager {
	t.Helper()
	return newManagerWith(t, backend, sandrun.Options{}, mod)
}

// newManagerWith runs the steps through a Sandbox with sbo's hooks.
func newManagerWith(t *testing.T, backend string, sbo sandrun.Options, mod func(*session.Options)) *session.Manager {
	t.Helper()
	opts := session.Options{
		Sandbox:   sessiontest.Sandbox(t, sbo),
		Launchers: map[string]sandrun.Launcher{backend: sessiontest.Launcher(t, backend)},
		Grace:     time.Second,
		// Generous: CI machines run many jails at once.
		ReadyTimeout: time.Minute,
	}
	if mod != nil {
		mod(&opts)
	}
	m, err := session.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return m
}

func slow(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: starts several interpreters and waits for limits")
	}
}

func create(t *testing.T, m *session.Manager, sp session.Spec) string {
	t.Helper()
	in, err := m.Create(context.Background(), sp)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return in.ID
}

func run(t *testing.T, m *session.Manager, id, code string) *sandrun.Result {
	t.Helper()
	res, err := m.Run(context.Background(), id, session.RunRequest{Code: code})
	if err != nil {
		t.Fatalf("run %q: %v", code, err)
	}
	return res
}

func want(t *testing.T, res *sandrun.Result, st sandrun.Status, stdout string) {
	t.Helper()
	if res.Status != st || (stdout != "" && res.Stdout != stdout) {
		t.Fatalf("got status %s stdout %q stderr %q error %q; want %s %q", res.Status, res.Stdout, res.Stderr, res.Error, st, stdout)
	}
}

// forEach runs f on every backend that can host sessions here.
func forEach(t *testing.T, f func(t *testing.T, backend string)) {
	for _, b := range sessiontest.Backends() {
		t.Run(b, func(t *testing.T) { f(t, b) })
	}
}

func TestStatePersists(t *testing.T) {
	forEach(t, func(t *testing.T, b string) {
		m := newManager(t, b, nil)
		t.Run("python", func(t *testing.T) {
			id := create(t, m, session.Spec{Language: "python"})
			want(t, run(t, m, id, "import math\nx = 41\ndef inc(v):\n    return v + 1\nopen('data.txt', 'w').write('kept')"), sandrun.StatusOK, "")
			want(t, run(t, m, id, "print(inc(x), math.floor(2.5), open('data.txt').read())"), sandrun.StatusOK, "42 2 kept\n")
			// Each step's output is its own.
			want(t, run(t, m, id, "print('second')"), sandrun.StatusOK, "second\n")
		})
		t.Run("javascript", func(t *testing.T) {
			id := create(t, m, session.Spec{Language: "javascript"})
			want(t, run(t, m, id, "var x = 41; function inc(v) { return v + 1 }; const fs = require('fs'); fs.writeFileSync('data.txt', 'kept'); let y = 1"), sandrun.StatusOK, "")
			want(t, run(t, m, id, "console.log(inc(x), y, fs.readFileSync('data.txt', 'utf8'))"), sandrun.StatusOK, "42 1 kept\n")
			want(t, run(t, m, id, "await_ = Promise.resolve(7).then(v => console.log('async', v))"), sandrun.StatusOK, "async 7\n")
		})
	})
}

func TestStepOutcomes(t *testing.T) {
	forEach(t, func(t *testing.T, b string) {
		m := newManager(t, b, nil)
		id := create(t, m, session.Spec{Language: "python"})
		want(t, run(t, m, id, "x = 1"), sandrun.StatusOK, "")
		res := run(t, m, id, "def broken(:\n  pass")
		want(t, res, sandrun.StatusCompileError, "")
		res = run(t, m, id, "import sys\nprint('bye')\nsys.exit(3)")
		want(t, res, sandrun.StatusExitError, "bye\n")
		if res.ExitCode != 3 {
			t.Fatalf("exit code %d, want 3", res.ExitCode)
		}
		res = run(t, m, id, "1/0")
		want(t, res, sandrun.StatusExitError, "")
		if !strings.Contains(res.Stderr, "ZeroDivisionError") {
			t.Fatalf("stderr %q lacks the traceback", res.Stderr)
		}
		if strings.Contains(res.Stderr, `File "<string>"`) {
			t.Fatalf("stderr %q shows the driver's frames (internal/pytb)", res.Stderr)
		}
		// stdout and stderr stay apart, and stdin reaches input().
		res, err := m.Run(context.Background(), id, session.RunRequest{Code: "import sys\nprint(input()[::-1]); print('e', file=sys.stderr)", Stdin: "abc\n"})
		if err != nil {
			t.Fatal(err)
		}
		want(t, res, sandrun.StatusOK, "cba\n")
		if res.Stderr != "e\n" {
			t.Fatalf("stderr %q", res.Stderr)
		}
		want(t, run(t, m, id, "print(x)"), sandrun.StatusOK, "1\n")
	})
}

func TestIsolation(t *testing.T) {
	forEach(t, func(t *testing.T, b string) {
		m := newManager(t, b, nil)
		a := create(t, m, session.Spec{Language: "python"})
		c := create(t, m, session.Spec{Language: "python"})
		want(t, run(t, m, a, "secret = 'a-only'\nopen('mine.txt', 'w').write('a')\nimport os\nprint(os.getcwd())"), sandrun.StatusOK, "")
		res := run(t, m, c, "print(secret)")
		if res.Status != sandrun.StatusExitError || !strings.Contains(res.Stderr, "NameError") {
			t.Fatalf("session c sees a's variable: %s %q %q", res.Status, res.Stdout, res.Stderr)
		}
		res = run(t, m, c, "import os\nprint(os.path.exists('mine.txt'))")
		want(t, res, sandrun.StatusOK, "False\n")
		if !sessiontest.IsBoundary(b) {
			t.Logf("%s: not a boundary; the file-by-path and process checks run on the jail only", b)
			return
		}
		awd := strings.TrimSpace(run(t, m, a, "import os\nprint(os.path.realpath('.'))").Stdout)
		// a starts a process with a marker in its command line; a sees it,
		// c must not.
		want(t, run(t, m, a, "import subprocess, sys\nkid = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', 'marker-a-7f3e'])"), sandrun.StatusOK, "")
		scan := "import os, time\ntime.sleep(0.3)\nfound = False\nfor p in os.listdir('/proc'):\n    try:\n        found = found or b'marker-a-7f3e' in open('/proc/%s/cmdline' % p, 'rb').read()\n    except (OSError, ValueError):\n        pass\nprint(found)"
		want(t, run(t, m, a, scan), sandrun.StatusOK, "True\n")
		want(t, run(t, m, c, scan), sandrun.StatusOK, "False\n")
		res = run(t, m, c, fmt.Sprintf("import os\nprint(os.path.exists(%q + '/mine.txt'), os.path.exists('/proc/1/root/work/mine.txt'))", awd))
		if res.Status != sandrun.StatusOK || strings.Contains(res.Stdout, "True") {
			t.Fatalf("c reached a's files: %s %q %q", res.Status, res.Stdout, res.Stderr)
		}
	})
}

func TestRunawayIsInterrupted(t *testing.T) {
	slow(t)
	forEach(t, func(t *testing.T, b string) {
		m := newManager(t, b, nil)
		for _, c := range []struct{ lang, set, loop, get, out string }{
			{"python", "x = 5", "while True:\n    pass", "print(x)", "5\n"},
			{"python", "x = 6", "import time\ntime.sleep(60)", "print(x)", "6\n"},
			{"javascript", "var x = 7", "while (true) {}", "console.log(x)", "7\n"},
			{"javascript", "var x = 8", "new Promise(() => {})", "console.log(x)", "8\n"},
		} {
			id := create(t, m, session.Spec{Language: c.lang})
			want(t, run(t, m, id, c.set), sandrun.StatusOK, "")
			res, err := m.Run(context.Background(), id, session.RunRequest{Code: c.loop, Timeout: sandrun.Duration(300 * time.Millisecond)})
			if err != nil {
				t.Fatal(err)
			}
			want(t, res, sandrun.StatusTimeout, "")
			want(t, run(t, m, id, c.get), sandrun.StatusOK, c.out)
			if in, _ := m.Get(id); in.State != session.StateIdle {
				t.Fatalf("%s: state %s after an interrupted step", c.lang, in.State)
			}
		}
	})
}

func TestUninterruptibleKillsOnlyItsSession(t *testing.T) {
	slow(t)
	forEach(t, func(t *testing.T, b string) {
		m := newManager(t, b, nil)
		other := create(t, m, session.Spec{Language: "python"})
		want(t, run(t, m, other, "y = 2"), sandrun.StatusOK, "")
		id := create(t, m, session.Spec{Language: "python"})
		res, err := m.Run(context.Background(), id, session.RunRequest{
			Code:    "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
			Timeout: sandrun.Duration(300 * time.Millisecond),
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != sandrun.StatusTimeout || !strings.Contains(res.Error, "session is dead") {
			t.Fatalf("status %s error %q", res.Status, res.Error)
		}
		in, _ := m.Get(id)
		if in.State != session.StateDead || in.Status != sandrun.StatusTimeout {
			t.Fatalf("info %+v", in)
		}
		if _, err := m.Run(context.Background(), id, session.RunRequest{Code: "print(1)"}); !errors.Is(err, session.ErrDead) {
			t.Fatalf("run in a dead session: %v", err)
		}
		want(t, run(t, m, other, "print(y)"), sandrun.StatusOK, "2\n")
	})
}

func TestMemoryBombStaysInItsSession(t *testing.T) {
	slow(t)
	forEach(t, func(t *testing.T, b string) {
		m := newManager(t, b, nil)
		other := create(t, m, session.Spec{Language: "python"})
		want(t, run(t, m, other, "y = 3"), sandrun.StatusOK, "")
		id := create(t, m, session.Spec{Language: "python", Limits: sandrun.Limits{Memory: 128 << 20}})
		res := run(t, m, id, "x = []\nwhile True:\n    x.append(bytearray(4 << 20))")
		if res.Status != sandrun.StatusMemoryLimit {
			t.Fatalf("status %s error %q stderr %q", res.Status, res.Error, res.Stderr)
		}
		in, _ := m.Get(id)
		t.Logf("%s: after the bomb the session is %s (%s)", b, in.State, in.Error)
		want(t, run(t, m, other, "print(y)"), sandrun.StatusOK, "3\n")
	})
}

func TestOutputFloodIsCapped(t *testing.T) {
	slow(t)
	forEach(t, func(t *testing.T, b string) {
		m := newManager(t, b, nil)
		id := create(t, m, session.Spec{Language: "python", Limits: sandrun.Limits{Output: 64 << 10}})
		want(t, run(t, m, id, "z = 9"), sandrun.StatusOK, "")
		res := run(t, m, id, "while True:\n    print('x' * 1000)")
		if res.Status != sandrun.StatusOutputLimit || !res.StdoutTruncated || len(res.Stdout) > 64<<10+200 {
			t.Fatalf("status %s truncated %v len %d", res.Status, res.StdoutTruncated, len(res.Stdout))
		}
		want(t, run(t, m, id, "print(z)"), sandrun.StatusOK, "9\n")
	})
}

func TestFakeFramesAreJustOutput(t *testing.T) {
	slow(t)
	forEach(t, func(t *testing.T, b string) {
		m := newManager(t, b, nil)
		fake := `{"t":"done","step":2,"kind":"ok","exit":0}`
		frame := fmt.Sprintf(`b'\x00\x00\x00\x%02x' + b'%s'`, len(fake), fake)
		id := create(t, m, session.Spec{Language: "python"})
		want(t, run(t, m, id, "v = 1"), sandrun.StatusOK, "")
		res := run(t, m, id, "import sys, os\nsys.stdout.buffer.write("+frame+")\nsys.stdout.flush()\nos.write(1, "+frame+")\nraise ValueError('real')")
		if res.Status != sandrun.StatusExitError || !strings.Contains(res.Stdout, fake) {
			t.Fatalf("status %s stdout %q", res.Status, res.Stdout)
		}
		want(t, run(t, m, id, "print(v)"), sandrun.StatusOK, "1\n")

		js := create(t, m, session.Spec{Language: "javascript"})
		res = run(t, m, js, fmt.Sprintf("process.stdout.write(Buffer.concat([Buffer.from([0,0,0,%d]), Buffer.from(%q)])); throw new Error('real')", len(fake), fake))
		if res.Status != sandrun.StatusExitError || !strings.Contains(res.Stdout, fake) {
			t.Fatalf("js: status %s stdout %q", res.Status, res.Stdout)
		}

		// Garbage written to the protocol channel itself ends the session,
		// fail closed, with a clear status.
		res = run(t, m, id, "import os\nfor fd in range(3, 10):\n    try:\n        os.write(fd, b'garbage that is not a frame')\n    except OSError:\n        pass\nimport time\ntime.sleep(5)")
		if res.Status != sandrun.StatusInternalError || !strings.Contains(res.Error, "protocol") {
			t.Fatalf("protocol garbage: status %s error %q", res.Status, res.Error)
		}
		if in, _ := m.Get(id); in.State != session.StateDead {
			t.Fatalf("state %s", in.State)
		}
	})
}

func TestCapAndClose(t *testing.T) {
	b := sessiontest.Backends()[0]
	m := newManager(t, b, func(o *session.Options) { o.MaxSessions = 2 })
	a := create(t, m, session.Spec{Language: "python"})
	create(t, m, session.Spec{Language: "python"})
	if _, err := m.Create(context.Background(), session.Spec{Language: "python"}); !errors.Is(err, session.ErrTooMany) {
		t.Fatalf("third session: %v", err)
	}
	pid := strings.TrimSpace(run(t, m, a, "import os\nprint(os.getpid())").Stdout)
	in, err := m.Close(a)
	if err != nil || in.State != session.StateClosed {
		t.Fatalf("close: %+v %v", in, err)
	}
	if _, err := m.Get(a); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("get after close: %v", err)
	}
	if b == "process" {
		n, _ := strconv.Atoi(pid)
		if err := syscall.Kill(n, 0); err == nil {
			t.Fatalf("interpreter %d still alive after close", n)
		}
	}
	create(t, m, session.Spec{Language: "python"})
	for _, bad := range []session.Spec{{Language: "cobol"}, {Language: "python", Backend: "nope"}, {Language: "python", MaxLifetime: sandrun.Duration(48 * time.Hour)}} {
		if _, err := m.Create(context.Background(), bad); !errors.Is(err, sandrun.ErrBadRequest) {
			t.Fatalf("bad spec %+v: %v", bad, err)
		}
	}
}

func TestIdleReaperAndShutdown(t *testing.T) {
	slow(t)
	b := sessiontest.Backends()[0]
	m := newManager(t, b, func(o *session.Options) { o.ReapInterval = 50 * time.Millisecond })
	idle := create(t, m, session.Spec{Language: "python", IdleTimeout: sandrun.Duration(time.Second)})
	busy := create(t, m, session.Spec{Language: "python", IdleTimeout: sandrun.Duration(time.Minute)})
	wd := sessiontest.WorkDirOf(t, m, idle)
	deadline := time.Now().Add(10 * time.Second)
	for {
		in, err := m.Get(idle)
		if err == nil && in.State == session.StateClosed {
			if !strings.Contains(in.Error, "idle") {
				t.Fatalf("reaped with %q", in.Error)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("idle session not reaped: %+v %v", in, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if wd != "" {
		if _, err := os.Stat(wd); !os.IsNotExist(err) {
			t.Fatalf("work dir %s left behind: %v", wd, err)
		}
	}
	want(t, run(t, m, busy, "print('alive')"), sandrun.StatusOK, "alive\n")
	bwd := sessiontest.WorkDirOf(t, m, busy)
	if err := m.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if bwd != "" {
		if _, err := os.Stat(bwd); !os.IsNotExist(err) {
			t.Fatalf("work dir %s left after shutdown: %v", bwd, err)
		}
	}
	if _, err := m.Create(context.Background(), session.Spec{Language: "python"}); !errors.Is(err, session.ErrClosed) {
		t.Fatalf("create after shutdown: %v", err)
	}
}

type upper struct{}

func (upper) SanitizeResult(r *sandrun.Result) {
	r.Sanitized = true
	if strings.Contains(r.Stdout, "SECRET") {
		r.Stdout = strings.ReplaceAll(r.Stdout, "SECRET", "[REDACTED]")
		r.Detections = append(r.Detections, sandrun.Detection{Rule: "test", Stream: "stdout", Count: 1})
	}
}

func TestSanitizedAndFiles(t *testing.T) {
	forEach(t, func(t *testing.T, b string) {
		m := newManagerWith(t, b, sandrun.Options{Sanitizer: upper{}}, nil)
		id := create(t, m, session.Spec{Language: "python", Files: []sandrun.InputFile{{Name: "in/a.txt", Content: "from-create"}}})
		res, err := m.Run(context.Background(), id, session.RunRequest{
			Code:    "print('SECRET', open('in/a.txt').read(), open('b.txt').read())\nopen('out.txt', 'w').write('made')",
			Files:   []sandrun.InputFile{{Name: "b.txt", Content: "from-step"}},
			Collect: []string{"*.txt"},
		})
		if err != nil {
			t.Fatal(err)
		}
		want(t, res, sandrun.StatusOK, "[REDACTED] from-create from-step\n")
		if !res.Sanitized || len(res.Files) != 2 || string(res.Files[1].Content) != "made" {
			t.Fatalf("sanitized %v files %+v", res.Sanitized, res.Files)
		}
		res, _ = m.Run(context.Background(), id, session.RunRequest{Code: "print('SECRET')", NoSanitize: true})
		want(t, res, sandrun.StatusOK, "SECRET\n")

		// The program plants a symlink to a host file, then asks for a
		// step file of that name: the host file must stay untouched.
		host := filepath.Join(t.TempDir(), "host.txt")
		if err := os.WriteFile(host, []byte("host"), 0o644); err != nil {
			t.Fatal(err)
		}
		want(t, run(t, m, id, fmt.Sprintf("import os\nos.symlink(%q, 'trap.txt')\nos.symlink('/etc', 'etc')", host)), sandrun.StatusOK, "")
		res, _ = m.Run(context.Background(), id, session.RunRequest{Code: "pass", Files: []sandrun.InputFile{{Name: "trap.txt", Content: "evil"}}})
		if res.Status != sandrun.StatusInternalError || !strings.Contains(res.Error, "unsafe") {
			t.Fatalf("write through a symlink: %s %q", res.Status, res.Error)
		}
		res, _ = m.Run(context.Background(), id, session.RunRequest{Code: "pass", Collect: []string{"trap.txt", "etc/*"}})
		if len(res.Files) != 0 {
			t.Fatalf("collected through symlinks: %+v", res.Files)
		}
		if b, _ := os.ReadFile(host); string(b) != "host" {
			t.Fatalf("host file changed: %q", b)
		}
	})
}

func TestStarlarkSession(t *testing.T) {
	forEach(t, func(t *testing.T, b string) {
		m := newManager(t, b, nil)
		id := create(t, m, session.Spec{Language: "starlark"})
		want(t, run(t, m, id, "xs = [1, 2]\ndef total(l):\n    return l[0] + l[1]\nr = sqrt(16)"), sandrun.StatusOK, "")
		want(t, run(t, m, id, "xs.append(4)\nprint(total(xs), len(xs), r, json.encode({'a': 1}))"), sandrun.StatusOK, "3 3 4.0 {\"a\":1}\n")
		want(t, run(t, m, id, "xs = xs + [5]\nprint(xs)"), sandrun.StatusOK, "[1, 2, 4, 5]\n")
		res := run(t, m, id, "print(undefined_name)")
		if res.Status != sandrun.StatusCompileError || !strings.Contains(res.Stderr, "undefined") {
			t.Fatalf("undefined name: %s %q", res.Status, res.Stderr)
		}
		res = run(t, m, id, "fail('boom')")
		if res.Status != sandrun.StatusExitError || !strings.Contains(res.Stderr, "boom") {
			t.Fatalf("fail(): %s %q", res.Status, res.Stderr)
		}
		res, err := m.Run(context.Background(), id, session.RunRequest{Code: "n = 0\nwhile True:\n    n += 1", Timeout: sandrun.Duration(300 * time.Millisecond)})
		if err != nil || res.Status != sandrun.StatusTimeout {
			t.Fatalf("runaway: %v %+v", err, res)
		}
		want(t, run(t, m, id, "print(len(xs), n > 0)"), sandrun.StatusOK, "4 True\n")

		// Under -race the driver's data limit carries ThreadSanitizer's
		// 8 GiB (internal/racebuild): the plain run tests the bomb.
		if !racebuild.Enabled {
			bomb := create(t, m, session.Spec{Language: "starlark", Limits: sandrun.Limits{Memory: 64 << 20}})
			res = run(t, m, bomb, "x = []\nwhile True:\n    x.append('a' * 1000000)")
			if res.Status != sandrun.StatusMemoryLimit {
				t.Fatalf("starlark memory bomb: %s %q %q", res.Status, res.Error, res.Stderr)
			}
		}
		want(t, run(t, m, id, "print(len(xs))"), sandrun.StatusOK, "4\n")
	})
}
