//go:build linux

package jail_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/internal/testenv"
	"github.com/sandrun/sandrun/lang"
)

func withLimits(f func(*sandrun.Limits)) func(*sandrun.Request) {
	return func(r *sandrun.Request) { f(&r.Limits) }
}

func TestLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs limit cases in the jail")
	}
	checkLimits(t, backend(t), "")
}

// checkLimits runs the limit cases on b (only those of language only,
// when set) and checks their statuses.
func checkLimits(t *testing.T, b *jail.Backend, only string) {
	cases := []struct {
		name string
		lang string
		code string
		mod  func(*sandrun.Request)
		want sandrun.Status
	}{
		{"exit code", "python", "import sys; sys.exit(3)", nil, sandrun.StatusExitError},
		{"timeout", "python", "import time; time.sleep(60)", withLimits(func(l *sandrun.Limits) { l.WallTime = sandrun.Duration(time.Second) }), sandrun.StatusTimeout},
		{"memory bomb", "python", "b = bytearray()\nwhile True: b += b'x' * (1 << 20)", withLimits(func(l *sandrun.Limits) { l.Memory = 64 << 20 }), sandrun.StatusMemoryLimit},
		{"cpu spin", "python", "while True: pass", withLimits(func(l *sandrun.Limits) { l.CPUTime = sandrun.Duration(time.Second) }), sandrun.StatusCPULimit},
		{"cpu in many processes", "python", "import os\nfor _ in range(3):\n    if os.fork() == 0:\n        break\nwhile True: pass",
			withLimits(func(l *sandrun.Limits) { l.CPUTime = sandrun.Duration(time.Second) }), sandrun.StatusCPULimit},
		{"output flood", "python", "while True: print('x' * 1000)", nil, sandrun.StatusOutputLimit},
		{"file size", "python", "open('/work/big', 'wb').write(b'x' * (4 << 20))", withLimits(func(l *sandrun.Limits) { l.FileSize = 1 << 20 }), sandrun.StatusFileSizeLimit},
		{"fork bomb", "python", "import os, time\nwhile True:\n    try: os.fork()\n    except OSError: time.sleep(0.01)", withLimits(func(l *sandrun.Limits) {
			l.Processes = 16
			l.WallTime = sandrun.Duration(2 * time.Second)
		}), sandrun.StatusTimeout},
		{"shm counts against memory", "python", "f = open('/dev/shm/x', 'wb')\nwhile True: f.write(b'x' * (1 << 20))",
			withLimits(func(l *sandrun.Limits) { l.Memory = 48 << 20; l.WorkDir = 512 << 20; l.FileSize = 512 << 20 }), sandrun.StatusMemoryLimit},
		{"one process runs", "python", "print(1)", withLimits(func(l *sandrun.Limits) { l.Processes = 1 }), sandrun.StatusOK},
		{"fork past the process limit fails", "python", "import os\nfor _ in range(20):\n    os.fork() or os._exit(0)", withLimits(func(l *sandrun.Limits) { l.Processes = 4 }), sandrun.StatusExitError},
		{"daemon dies with the run", "bash", "(setsid sleep 1000 &) ; echo started", nil, sandrun.StatusOK},
		{"kill init is ignored", "python", "import os, signal\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGKILL):\n    try: os.kill(1, s)\n    except PermissionError: pass\nprint('alive')", nil, sandrun.StatusOK},
	}
	for _, c := range cases {
		if only != "" && c.lang != only {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			// Only the wall-clock cases (timeout) are about the wall clock;
			// the others get one scaled to the host's load, so a busy host
			// cannot turn their limit into a timeout.
			mods := []func(*sandrun.Request){withLimits(func(l *sandrun.Limits) {
				if c.want != sandrun.StatusTimeout {
					l.WallTime = sandrun.Duration(testenv.Scale(t, 30*time.Second))
				}
			})}
			if c.mod != nil {
				mods = append(mods, c.mod)
			}
			res := run(t, b, c.lang, c.code, mods...)
			if res.Status != c.want {
				t.Fatalf("status %s (%s), want %s\nstdout %.200q\nstderr %.500q", res.Status, res.Error, c.want, res.Stdout, res.Stderr)
			}
			t.Logf("%s: %s; usage %+v", c.name, res.Error, res.Usage)
		})
	}
	checkNoLeftovers(t)
}

// checkNoLeftovers: no cgroup of this process remains.
func checkNoLeftovers(t *testing.T) {
	t.Helper()
	for _, base := range []string{"/sys/fs/cgroup/memory/sandrun-jail", "/sys/fs/cgroup/pids/sandrun-jail", "/sys/fs/cgroup/sandrun-jail"} {
		ents, _ := os.ReadDir(base)
		for _, e := range ents {
			if e.IsDir() && strings.HasPrefix(e.Name(), strconv.Itoa(os.Getpid())+"-") && !holdsZygote(filepath.Join(base, e.Name())) {
				t.Errorf("leftover cgroup %s", filepath.Join(base, e.Name()))
			}
		}
	}
}

// holdsZygote reports whether a cgroup holds a warm path's zygote (its
// group lives as long as the backend).
func holdsZygote(dir string) bool {
	b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	for _, f := range strings.Fields(string(b)) {
		if cmd, _ := os.ReadFile("/proc/" + f + "/cmdline"); strings.HasPrefix(string(cmd), "sandrun-jail-zygote\x00") {
			return true
		}
	}
	return false
}

func TestCollectAndFiles(t *testing.T) {
	b := backend(t)
	res := run(t, b, "python", "import os\nos.makedirs('out', exist_ok=True)\nopen('out/a.txt','w').write(open('in.txt').read().upper())\nos.symlink('/etc/passwd', 'out/link.txt')",
		func(r *sandrun.Request) {
			r.Files = []sandrun.InputFile{{Name: "in.txt", Content: "hello"}}
			r.Collect = []string{"out/*"}
		})
	if res.Status != sandrun.StatusOK {
		t.Fatalf("%s %s %s", res.Status, res.Error, res.Stderr)
	}
	if len(res.Files) != 1 || res.Files[0].Name != "out/a.txt" || string(res.Files[0].Content) != "HELLO" {
		t.Fatalf("files = %+v (want only out/a.txt; symlinks are never followed)", res.Files)
	}
}

func TestStdinAndArgs(t *testing.T) {
	b := backend(t)
	res := run(t, b, "python", "import sys; print(sys.stdin.read().strip(), sys.argv[1:])", func(r *sandrun.Request) {
		r.Stdin = "from stdin"
		r.Args = []string{"a", "b"}
	})
	if res.Status != sandrun.StatusOK || res.Stdout != "from stdin ['a', 'b']\n" {
		t.Fatalf("%s %q %q", res.Status, res.Stdout, res.Stderr)
	}
}

func TestCancel(t *testing.T) {
	b := backend(t)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	req := &sandrun.Request{Language: "python", Code: "import time; time.sleep(30)"}
	req.Limits = req.Limits.WithDefaults()
	t0 := time.Now()
	res, err := b.Run(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != sandrun.StatusTimeout || time.Since(t0) > 5*time.Second {
		t.Fatalf("status %s after %v", res.Status, time.Since(t0))
	}
}

// TestSingleFileBind: a language whose runtime paths include a single
// file (starlark's interpreter is the sandrun binary itself) gets that
// file bound read-only at the same path.
func TestSingleFileBind(t *testing.T) {
	backend(t)
	// A regular file under a 0700 directory, as the sandrun binary or a
	// pyenv prefix under /root may be.
	file := filepath.Join(t.TempDir(), "runtime-file")
	want := []byte("runtime file\n")
	if err := os.WriteFile(file, want, 0o755); err != nil {
		t.Fatal(err)
	}
	reg := lang.NewRegistry(lang.Options{Extra: []lang.Spec{{
		Name: "bash", Candidates: []string{"bash"}, FileName: "main.sh",
		Probe: func(ctx context.Context, exe string) (*lang.Language, error) {
			real, err := filepath.EvalSymlinks(exe)
			if err != nil {
				return nil, err
			}
			return &lang.Language{Version: "test", Interpreter: real, Argv: []string{real, "{file}"}, Paths: []string{file}}, nil
		},
	}}})
	b, err := jail.New(jail.Options{Languages: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	res := run(t, b, "bash", "cat "+file+"; echo x >> "+file+" && echo WROTE; ls -d /tmp/*")
	if res.Status != sandrun.StatusOK || !strings.HasPrefix(res.Stdout, string(want)) || strings.Contains(res.Stdout, "WROTE") {
		t.Fatalf("%s %q %q", res.Status, res.Stdout, res.Stderr)
	}
	t.Logf("stdout tail %q, stderr %q", res.Stdout[len(want):], res.Stderr)
}

// TestSetupBound: the setup has its own bound, apart from the program's
// wall clock; a setup that does not finish in time ends the run with a
// SetupError naming the layer it was in (here: a bound no setup meets).
func TestSetupBound(t *testing.T) {
	backend(t)
	b, err := jail.New(jail.Options{Languages: lang.NewRegistry(lang.Options{}), SetupTimeout: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	req := &sandrun.Request{Language: "python", Code: "print(1)"}
	req.Limits = req.Limits.WithDefaults()
	res, err := b.Run(context.Background(), req)
	var se *jail.SetupError
	if !errors.As(err, &se) || !strings.Contains(se.Error(), "setup did not finish within 1ns") {
		t.Fatalf("run with an unmeetable setup bound: %+v, %v", res, err)
	}
	t.Logf("%v", err)
	// The usual bound: the setup is reported apart from the program's time.
	res = run(t, backend(t), "python", "print(1)")
	if res.Status != sandrun.StatusOK {
		t.Fatalf("%s %s", res.Status, res.Error)
	}
	t.Logf("usage %+v", res.Usage)
}
