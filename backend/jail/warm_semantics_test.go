//go:build linux

package jail_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
)

// warmCases are programs whose whole observable outcome (status, exit
// code, signal, stdout, stderr) must be the same in a zygote's child as
// in a cold jail, which runs `python3 /work/main.py ARGS`.
var warmCases = []struct {
	name, code string
	mod        func(*sandrun.Request)
}{
	{name: "argv", code: "import sys; print(sys.argv, sys.orig_argv[1:], sys.executable == sys.orig_argv[0])",
		mod: func(r *sandrun.Request) { r.Args = []string{"a", "b c"} }},
	{name: "no args", code: "import sys; print(sys.argv)"},
	{name: "main module", code: "import sys, __main__\nprint(__name__, __file__, sorted(globals()), type(__loader__).__name__, __spec__, __package__, __cached__, __doc__)\nprint(__main__.__dict__ is globals(), sys.modules['__main__'] is __main__)"},
	{name: "sys.path", code: "import sys; print(sys.path[0], sys.path[1:] == [p for p in sys.path[1:]])"},
	{name: "flags", code: "import sys; print(sys.flags.ignore_environment, sys.flags.no_user_site, sys.flags.dont_write_bytecode, sys.flags.isolated)"},
	{name: "streams", code: "import sys\nfor s in (sys.stdin, sys.stdout, sys.stderr):\n    print(s.name, s.mode, s.encoding, s.errors, s.line_buffering, s.write_through, s.isatty(), s.fileno(), type(s.buffer).__name__)\nprint(sys.stdout is sys.__stdout__, sys.stdin is sys.__stdin__)"},
	{name: "stdin", code: "import sys; print(repr(input()), repr(sys.stdin.read()))", mod: func(r *sandrun.Request) { r.Stdin = "first\nsecond\nthird" }},
	{name: "stdin empty", code: "print(input())"},
	{name: "exit int", code: "import sys; print('x'); sys.exit(3)"},
	{name: "exit str", code: "import sys; sys.exit('bye now')"},
	{name: "exit none", code: "raise SystemExit"},
	{name: "exit true", code: "raise SystemExit(True)"},
	{name: "exit big", code: "import sys; sys.exit(256 + 7)"},
	{name: "os._exit", code: "import os; print('a', flush=True); os._exit(5)"},
	{name: "exception", code: "def f():\n    g()\ndef g():\n    raise ValueError('boom')\nprint('before')\nf()\n"},
	{name: "chained", code: "try:\n    1/0\nexcept Exception as e:\n    raise KeyError('k') from e\n"},
	{name: "syntax", code: "print('never')\nx = (\n"},
	{name: "indent", code: "if True:\nprint(1)\n"},
	{name: "null byte", code: "print(1)\x00"},
	{name: "latin-1", code: "print('caf\xe9')"},
	{name: "coding", code: "# -*- coding: latin-1 -*-\nprint('caf\xe9')"},
	{name: "bom", code: "\ufeffprint('bom')"},
	{name: "runtime syntax error", code: "exec('x = (')"},
	{name: "keyboard interrupt", code: "print('go')\nraise KeyboardInterrupt"},
	{name: "sigint", code: "import os, signal\ntry:\n    os.kill(os.getpid(), signal.SIGINT)\n    import time; time.sleep(1)\nexcept KeyboardInterrupt:\n    print('caught')\n"},
	{name: "sigterm", code: "import os, signal\nprint('x', flush=True)\nos.kill(os.getpid(), signal.SIGTERM)\nimport time; time.sleep(5)"},
	{name: "atexit", code: "import atexit\natexit.register(print, 'second')\natexit.register(print, 'first')\nprint('main')\n"},
	{name: "atexit error", code: "import atexit\ndef bad():\n    raise RuntimeError('in atexit')\natexit.register(bad)\nprint('main')\n"},
	{name: "thread", code: "import threading, time\ndef w():\n    time.sleep(0.2)\n    print('thread done')\nthreading.Thread(target=w).start()\nprint('main done')\n"},
	{name: "daemon thread", code: "import threading, time\nthreading.Thread(target=time.sleep, args=(30,), daemon=True).start()\nprint('main done')\n"},
	{name: "no newline", code: "import sys; sys.stdout.write('partial')"},
	{name: "del at exit", code: "class A:\n    def __del__(self):\n        print('deleted')\na = A()\nprint('end')\n"},
	{name: "excepthook", code: "import sys\ndef hook(t, v, tb):\n    print('hook', t.__name__, v, tb.tb_frame.f_code.co_filename, tb.tb_next is None)\nsys.excepthook = hook\nraise OSError('x')\n"},
	{name: "last exc", code: "import atexit, sys\natexit.register(lambda: print(sys.last_type.__name__, sys.last_value))\nraise IndexError(4)\n"},
	{name: "env", code: "import os; print(sorted(os.environ.items()))", mod: func(r *sandrun.Request) { r.Env = map[string]string{"FOO": "bar"} }},
	{name: "tz", code: "import time; print(time.tzname, time.timezone)", mod: func(r *sandrun.Request) { r.Env = map[string]string{"TZ": "UTC+03"} }},
	{name: "local import", code: "import helper; print(helper.X, helper.__file__)",
		mod: func(r *sandrun.Request) { r.Files = []sandrun.InputFile{{Name: "helper.py", Content: "X = 42\n"}} }},
	{name: "files", code: "import os; print(sorted(os.listdir('.')), open('data/in.txt').read(), os.getcwd())",
		mod: func(r *sandrun.Request) { r.Files = []sandrun.InputFile{{Name: "data/in.txt", Content: "hello"}} }},
	{name: "ids", code: "import os; print(os.getpid() > 1, os.getppid(), os.getuid(), os.getgid(), os.getgroups(), os.getsid(0) == os.getpid(), os.getpgrp() == os.getpid())"},
	{name: "proc self", code: "import os; print(os.stat('/proc/self/status').st_uid, open('/proc/self/mem', 'rb').read(0), os.path.exists('/proc/1/exe'))"},
	{name: "signals", code: "import signal\nprint([str(signal.getsignal(s)) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGCHLD, signal.SIGHUP)])"},
	{name: "umask cwd", code: "import os; m = os.umask(0); print(oct(m), os.getcwd())"},
	{name: "stderr order", code: "import sys\nprint('out1')\nprint('err1', file=sys.stderr)\nprint('out2')\n"},
	{name: "unicode", code: "print('h\\u00e9llo \\u2603 \\udcff'.encode('utf-8', 'surrogateescape'))\nprint('\\u00e9\\u2603')\nimport sys; sys.stdout.buffer.write(b'\\xff\\n')"},
	{name: "memory error", code: "x = bytearray(1 << 40)"},
	{name: "subprocess", code: "import subprocess, sys\nr = subprocess.run([sys.executable, '-c', 'import sys; print(sys.argv)', 'z'], capture_output=True, text=True)\nprint(r.returncode, r.stdout.strip(), r.stderr)"},
	{name: "fork", code: "import os\npid = os.fork()\nif pid == 0:\n    print('child')\nelse:\n    os.waitpid(pid, 0)\n    print('parent')\n"},
}

// TestWarmMatchesCold runs each case on a cold jail and on a zygote's
// child and compares everything the caller sees.
func TestWarmMatchesCold(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: many jailed runs or zygote starts")
	}
	cold := backend(t)
	warmBackend(t)
	for _, c := range warmCases {
		t.Run(c.name, func(t *testing.T) {
			mods := []func(*sandrun.Request){}
			if c.mod != nil {
				mods = append(mods, c.mod)
			}
			want := run(t, cold, "python", c.code, mods...)
			got := runWarm(t, c.code, mods...)
			// Object addresses differ between any two processes.
			addr := regexp.MustCompile(`0x[0-9a-f]+`)
			want.Stderr, got.Stderr = addr.ReplaceAllString(want.Stderr, "0x?"), addr.ReplaceAllString(got.Stderr, "0x?")
			for _, d := range []struct{ what, a, b string }{
				{"status", string(want.Status), string(got.Status)},
				{"stdout", want.Stdout, got.Stdout},
				{"stderr", want.Stderr, got.Stderr},
				{"error", want.Error, got.Error},
			} {
				if d.a != d.b {
					t.Errorf("%s differs:\ncold: %q\nwarm: %q", d.what, d.a, d.b)
				}
			}
			if want.ExitCode != got.ExitCode || want.Signal != got.Signal {
				t.Errorf("exit: cold %d/%q, warm %d/%q", want.ExitCode, want.Signal, got.ExitCode, got.Signal)
			}
			if t.Failed() || testing.Verbose() {
				t.Logf("cold: %s %d %q %q", want.Status, want.ExitCode, want.Stdout, want.Stderr)
			}
		})
	}
}

// TestWarmRandomDiffers: each child reseeds random (python does it after
// fork), so two runs do not share a sequence.
func TestWarmRandomDiffers(t *testing.T) {
	code := "import random, os; print(random.random(), os.urandom(8).hex())"
	a, b := runWarm(t, code), runWarm(t, code)
	if a.Stdout == b.Stdout || strings.TrimSpace(a.Stdout) == "" {
		t.Fatalf("two runs printed %q and %q", a.Stdout, b.Stdout)
	}
}
