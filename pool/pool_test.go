package pool_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/pool"
	"github.com/sandrun/sandrun/session/sessiontest"
)

func newPool(t *testing.T, backend string, sizes map[string]int) *pool.Pool {
	t.Helper()
	p, err := pool.New(pool.Config{Launcher: sessiontest.Launcher(t, backend), Tier: backend, Sizes: sizes, ReadyTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func waitReady(t *testing.T, p *pool.Pool, lang string, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for p.Stats().Ready[lang] < n {
		if time.Now().After(deadline) {
			t.Fatalf("pool never reached %d ready %s interpreters: %+v", n, lang, p.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func runOK(t *testing.T, p *pool.Pool, req *sandrun.Request) *sandrun.Result {
	t.Helper()
	req.Limits = req.Limits.WithDefaults()
	res, err := p.Run(context.Background(), req)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

func TestNeverReused(t *testing.T) {
	for _, b := range sessiontest.Backends() {
		t.Run(b, func(t *testing.T) {
			p := newPool(t, b, map[string]int{"python": 2, "javascript": 1})
			waitReady(t, p, "python", 2)
			// An interpreter's identity: its pid namespace (jail), its pid
			// and its start time in ticks since boot.
			pids := map[string]bool{}
			for i := range 6 {
				res := runOK(t, p, &sandrun.Request{Language: "python", Code: "import os\nprint(os.readlink('/proc/self/ns/pid') + str(os.getpid()) + '@' + open('/proc/self/stat').read().rsplit(')', 1)[1].split()[19], 'x' in globals(), os.path.exists('left.txt'))\nx = 1\nopen('left.txt', 'w').write('1')"})
				if res.Status != sandrun.StatusOK {
					t.Fatalf("run %d: %s %q %q", i, res.Status, res.Stderr, res.Error)
				}
				f := strings.Fields(res.Stdout)
				if len(f) != 3 || f[1] != "False" || f[2] != "False" {
					t.Fatalf("run %d saw an earlier run's state: %q", i, res.Stdout)
				}
				if pids[f[0]] {
					t.Fatalf("interpreter %s served two runs", f[0])
				}
				pids[f[0]] = true
			}
			st := p.Stats()
			if st.Hits == 0 {
				t.Fatalf("no run was served warm: %+v", st)
			}
			res := runOK(t, p, &sandrun.Request{Language: "javascript", Code: "console.log(typeof x); var x = 1"})
			if res.Status != sandrun.StatusOK || res.Stdout != "undefined\n" {
				t.Fatalf("js: %s %q %q", res.Status, res.Stdout, res.Stderr)
			}
		})
	}
}

func TestRefillsUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: many interpreter starts")
	}
	for _, b := range sessiontest.Backends() {
		t.Run(b, func(t *testing.T) {
			p := newPool(t, b, map[string]int{"python": 2})
			waitReady(t, p, "python", 2)
			var wg sync.WaitGroup
			errs := make(chan string, 12)
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 6 {
						res, err := p.Run(context.Background(), &sandrun.Request{Language: "python", Code: "print(1)", Limits: sandrun.DefaultLimits()})
						if err != nil || res.Status != sandrun.StatusOK || res.Stdout != "1\n" {
							errs <- fmt.Sprint(err, res)
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Fatal(e)
			}
			waitReady(t, p, "python", 2)
			st := p.Stats()
			if st.Hits+st.Misses != 12 || st.Launched < 14 || st.Hits < 2 {
				t.Fatalf("stats after load: %+v", st)
			}
			t.Logf("after 12 runs at concurrency 2: %+v", st)
		})
	}
}

func TestRequestLimitsApplied(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: many interpreter starts")
	}
	for _, b := range sessiontest.Backends() {
		t.Run(b, func(t *testing.T) {
			p := newPool(t, b, map[string]int{"python": 1})
			cases := []struct {
				code string
				lim  sandrun.Limits
				want sandrun.Status
			}{
				{"while True:\n    pass", sandrun.Limits{WallTime: sandrun.Duration(300 * time.Millisecond)}, sandrun.StatusTimeout},
				{"while True:\n    pass", sandrun.Limits{CPUTime: sandrun.Duration(time.Second), WallTime: sandrun.Duration(60 * time.Second)}, sandrun.StatusCPULimit},
				{"x = bytearray(512 << 20)", sandrun.Limits{Memory: 64 << 20}, sandrun.StatusMemoryLimit},
				{"while True:\n    print('y' * 1000)", sandrun.Limits{Output: 32 << 10}, sandrun.StatusOutputLimit},
				{"import sys\nsys.exit(4)", sandrun.Limits{}, sandrun.StatusExitError},
				{"import os\nos._exit(5)", sandrun.Limits{}, sandrun.StatusExitError},
			}
			for _, c := range cases {
				waitReady(t, p, "python", 1)
				res := runOK(t, p, &sandrun.Request{Language: "python", Code: c.code, Limits: c.lim})
				if res.Status != c.want {
					t.Fatalf("%q with %+v: %s (%s) stderr %q", c.code, c.lim, res.Status, res.Error, res.Stderr)
				}
			}
			res := runOK(t, p, &sandrun.Request{Language: "python", Code: "import sys, os\nprint(sys.argv[1:], os.environ['GREETING'], input(), open('in.txt').read())\nopen('out.txt', 'w').write('o')",
				Args: []string{"a", "b"}, Env: map[string]string{"GREETING": "hi"}, Stdin: "line\n",
				Files: []sandrun.InputFile{{Name: "in.txt", Content: "file"}}, Collect: []string{"out.txt"}})
			if res.Status != sandrun.StatusOK || res.Stdout != "['a', 'b'] hi line file\n" || len(res.Files) != 1 {
				t.Fatalf("request fields: %s %q %q %+v", res.Status, res.Stdout, res.Stderr, res.Files)
			}
			if st := p.Stats(); st.Hits == 0 {
				t.Fatalf("no warm run: %+v", st)
			}
		})
	}
}

// TestProgramModeMatchesCold: a pooled javascript run (program mode) gives
// what `node main.js ARGS` gives in the launcher's own cold run: stdin on
// fd 0, argv, the main module, timers that outlive the top level, the
// exit code and the uncaught-exception report.
func TestProgramModeMatchesCold(t *testing.T) {
	matchesCold(t, "javascript", func(code string) *sandrun.Request {
		return &sandrun.Request{Language: "javascript", Code: code, Args: []string{"a b", "c"}, Stdin: "in\nput", Env: map[string]string{"FOO": "bar"},
			Files: []sandrun.InputFile{{Name: "data.txt", Content: "d"}}, Limits: sandrun.DefaultLimits()}
	},
		"const fs = require('fs');\nconsole.log(process.argv.slice(2), require.main === module, __filename, process.execArgv, process.env.FOO);\nconsole.log(JSON.stringify(fs.readFileSync(0, 'utf8')));\nsetTimeout(() => { console.error('late'); process.exitCode = 3; }, 50);",
		"console.log('x'); throw new TypeError('boom')",
		"process.stdout.write('partial'); process.exit(7)",
		"console.log(Object.keys(require.cache).length, require('fs').readdirSync('.').sort())",
	)
}

// matchesCold runs each program through a pool of language (one warm
// interpreter, on every backend) and through the launcher's own cold run,
// and compares status, exit code, output and error message.
func matchesCold(t *testing.T, language string, req func(code string) *sandrun.Request, codes ...string) {
	for _, b := range sessiontest.Backends() {
		t.Run(b, func(t *testing.T) {
			l := sessiontest.Launcher(t, b)
			cold, ok := l.(sandrun.Backend)
			if !ok {
				t.Skip("the launcher is not a backend")
			}
			p := newPool(t, b, map[string]int{language: 1})
			for _, code := range codes {
				waitReady(t, p, language, 1)
				before := p.Stats().Hits
				got := runOK(t, p, req(code))
				if p.Stats().Hits != before+1 {
					t.Fatalf("the run was not served warm: %+v", p.Stats())
				}
				r := req(code)
				r.Limits = r.Limits.WithDefaults()
				want, err := cold.Run(context.Background(), r)
				if err != nil {
					t.Fatal(err)
				}
				// The process tier's work directories are named per run.
				for _, r := range []*sandrun.Result{got, want} {
					r.Stdout, r.Stderr = workDir.ReplaceAllString(r.Stdout, "WORK"), workDir.ReplaceAllString(r.Stderr, "WORK")
				}
				if got.Status != want.Status || got.ExitCode != want.ExitCode || got.Stdout != want.Stdout || got.Stderr != want.Stderr || got.Error != want.Error {
					t.Errorf("%q:\npool: %s %d %q %q %q\ncold: %s %d %q %q %q", code, got.Status, got.ExitCode, got.Stdout, got.Stderr, got.Error, want.Status, want.ExitCode, want.Stdout, want.Stderr, want.Error)
				}
			}
		})
	}
}

var workDir = regexp.MustCompile(`/[^\s'"]*/sandrun-\d+-[0-9a-f]+`)

// TestStarlarkMatchesCold: a pooled Starlark run gives what the tier's
// cold run (`sandrun __child starlark-file main.star`) gives: a syntax or
// resolve error is the interpreter's exit code 2 (exit_error, not
// compile_error), with the same message; a runtime error, fail(), deep
// recursion, load() and print() are the same too. Before, pooled runs
// went through the session driver, another interpreter setup with its
// own statuses, messages and limits.
func TestStarlarkMatchesCold(t *testing.T) {
	matchesCold(t, "starlark", func(code string) *sandrun.Request {
		return &sandrun.Request{Language: "starlark", Code: code, Limits: sandrun.DefaultLimits()}
	},
		"print('hi', 1 + 2)\nx = [i * i for i in range(4)]\nprint(x, math.sqrt(16))",
		"def f(:\n  pass",
		"print(undefined_name)",
		"print('before')\nx = 1 // 0",
		"fail('boom', 3)",
		"def f(n):\n  return f(n + 1)\nf(0)",
		"load('x.star', 'y')",
		"print(json.encode({'a': [1, 2]}))",
	)
}
