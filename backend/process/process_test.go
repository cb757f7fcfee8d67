package process_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/process"
	"github.com/sandrun/sandrun/internal/testenv"
	"github.com/sandrun/sandrun/lang"
)

// newSandbox returns a Sandbox with only the process tier, working in a
// private base directory so the test can check that nothing is left.
func newSandbox(t testing.TB) (*sandrun.Sandbox, string) {
	t.Helper()
	base := t.TempDir()
	b, err := process.New(process.Options{Languages: lang.NewRegistry(lang.Options{}), BaseDir: base})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{b}})
	if err != nil {
		t.Fatal(err)
	}
	return sb, base
}

func needLang(t testing.TB, name string) {
	t.Helper()
	if _, err := lang.NewRegistry(lang.Options{}).Lookup(context.Background(), name); err != nil {
		if os.Getenv("SANDRUN_TEST_STRICT") == "1" {
			t.Fatalf("%s unavailable: %v", name, err)
		}
		t.Skipf("%s unavailable: %v", name, err)
	}
}

func run(t *testing.T, sb *sandrun.Sandbox, req *sandrun.Request) *sandrun.Result {
	t.Helper()
	if req.Backend == "" {
		req.Backend = "process"
	}
	res, err := sb.Run(context.Background(), req)
	if err != nil {
		t.Fatalf("Run: %v (status %s: %s)", err, res.Status, res.Error)
	}
	return res
}

func assertEmpty(t *testing.T, base string) {
	t.Helper()
	ents, _ := os.ReadDir(base)
	if len(ents) != 0 {
		t.Fatalf("work dirs left behind in %s: %d", base, len(ents))
	}
}

func TestSeedExamples(t *testing.T) {
	needLang(t, "python")
	sb, base := newSandbox(t)
	code := `
import statistics
data = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
print(f"Mean: {statistics.mean(data)}")
print(f"Std Dev: {statistics.pstdev(data):.4f}")
`
	res := run(t, sb, &sandrun.Request{Language: "python", Code: code})
	if res.Status != sandrun.StatusOK || !res.Success {
		t.Fatalf("status %s: %s\n%s", res.Status, res.Error, res.Stderr)
	}
	if res.Stdout != "Mean: 5.5\nStd Dev: 2.8723\n" {
		t.Fatalf("stdout %q", res.Stdout)
	}
	if res.Backend != "process" || res.CodeSHA256 == "" || res.ID == "" {
		t.Fatalf("metadata: %+v", res)
	}
	// Starting CPython and importing statistics costs tens of
	// milliseconds of both wall and CPU time: zero means not measured.
	if res.Usage.WallMs <= 0 || res.Usage.CPUMs <= 0 {
		t.Fatalf("usage not measured: %+v", res.Usage)
	}
	for _, mod := range []string{"os", "socket"} {
		res := run(t, sb, &sandrun.Request{Language: "python", Code: "import " + mod + "\nprint('escaped')"})
		if res.Status != sandrun.StatusExitError || strings.Contains(res.Stdout, "escaped") {
			t.Fatalf("import %s: status %s stdout %q", mod, res.Status, res.Stdout)
		}
		if !strings.Contains(res.Stderr, "'"+mod+"'") || !strings.Contains(res.Stderr, "blocked") {
			t.Fatalf("import %s: error does not name the module: %q", mod, res.Stderr)
		}
	}
	// The standard library's own imports of blocked modules still work.
	res = run(t, sb, &sandrun.Request{Language: "python", Code: "import json, statistics, collections\nfrom os import path\n"})
	if res.Status != sandrun.StatusExitError || !strings.Contains(res.Stderr, "'os'") {
		t.Fatalf("from os import: %s %q", res.Status, res.Stderr)
	}
	res = run(t, sb, &sandrun.Request{Language: "python", Code: "import json, statistics, collections, logging\nprint(json.dumps([1]))"})
	if res.Status != sandrun.StatusOK {
		t.Fatalf("stdlib imports broke: %s %q", res.Status, res.Stderr)
	}
	assertEmpty(t, base)
}

func TestLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("limit tests take seconds")
	}
	needLang(t, "python")
	needLang(t, "bash")
	sb, base := newSandbox(t)
	cases := []struct {
		name string
		req  sandrun.Request
		want sandrun.Status
	}{
		{"timeout", sandrun.Request{Language: "python", Code: "import time\ntime.sleep(30)", Limits: sandrun.Limits{WallTime: sandrun.Duration(500 * time.Millisecond)}}, sandrun.StatusTimeout},
		{"cpu spin", sandrun.Request{Language: "python", Code: "while True: pass", Limits: sandrun.Limits{CPUTime: sandrun.Duration(time.Second)}}, sandrun.StatusCPULimit},
		{"memory bomb", sandrun.Request{Language: "python", Code: "x = bytearray(1 << 30)\nprint(len(x))", Limits: sandrun.Limits{Memory: 128 << 20}}, sandrun.StatusMemoryLimit},
		{"memory bomb growing", sandrun.Request{Language: "python", Code: "a = []\nwhile True: a.append(' ' * (1 << 20))", Limits: sandrun.Limits{Memory: 128 << 20}}, sandrun.StatusMemoryLimit},
		{"output flood", sandrun.Request{Language: "python", Code: "while True: print('x' * 100)", Limits: sandrun.Limits{Output: 64 << 10}}, sandrun.StatusOutputLimit},
		{"stderr flood", sandrun.Request{Language: "bash", Code: "while true; do echo flood >&2; done", Limits: sandrun.Limits{Output: 64 << 10}}, sandrun.StatusOutputLimit},
		{"file too large python", sandrun.Request{Language: "python", Code: "f = open('big', 'w')\nfor i in range(2**24): f.write('I love beans\\n')", Limits: sandrun.Limits{FileSize: 1 << 20}}, sandrun.StatusFileSizeLimit},
		{"file too large bash", sandrun.Request{Language: "bash", Code: "head -c 5000000 /dev/zero > big", Limits: sandrun.Limits{FileSize: 1 << 20}}, sandrun.StatusFileSizeLimit},
		{"exit code", sandrun.Request{Language: "bash", Code: "exit 3"}, sandrun.StatusExitError},
		{"killed by signal", sandrun.Request{Language: "bash", Code: "kill -SEGV $$"}, sandrun.StatusSignaled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Only the timeout case is about the wall clock; the others get
			// one scaled to the host's load, so a busy host cannot turn
			// their limit into a timeout (CPU time accrues slowly there).
			if c.want != sandrun.StatusTimeout && c.req.Limits.WallTime == 0 {
				c.req.Limits.WallTime = sandrun.Duration(testenv.Scale(t, 30*time.Second))
			}
			res := run(t, sb, &c.req)
			if res.Status != c.want {
				t.Fatalf("status %s (%s), want %s; stderr %q", res.Status, res.Error, c.want, tail(res.Stderr))
			}
			if res.Error == "" || res.Success {
				t.Fatalf("no message or success set: %+v", res)
			}
			if c.want == sandrun.StatusOutputLimit {
				if !(res.StdoutTruncated || res.StderrTruncated) || len(res.Stdout)+len(res.Stderr) > 2*(64<<10)+200 {
					t.Fatalf("output not capped: %d+%d bytes", len(res.Stdout), len(res.Stderr))
				}
				if !strings.Contains(res.Stdout+res.Stderr, "[OUTPUT TRUNCATED:") {
					t.Fatal("no truncation notice")
				}
			}
		})
	}
	assertEmpty(t, base)
}

func tail(s string) string {
	if len(s) > 400 {
		return s[len(s)-400:]
	}
	return s
}

func TestEnvironmentAndDescriptors(t *testing.T) {
	needLang(t, "bash")
	t.Setenv("SANDRUN_TEST_SECRET", "hunter2")
	sb, base := newSandbox(t)
	res := run(t, sb, &sandrun.Request{Language: "bash", Code: "env | sort; echo; exec ls -1 /proc/self/fd", Env: map[string]string{"GREETING": "hi"}})
	if res.Status != sandrun.StatusOK {
		t.Fatalf("%s %s %s", res.Status, res.Error, res.Stderr)
	}
	if strings.Contains(res.Stdout, "hunter2") || strings.Contains(res.Stdout, "SANDRUN_TEST_SECRET") {
		t.Fatal("supervisor env leaked")
	}
	for _, want := range []string{"GREETING=hi", "LANG=C.UTF-8", "PATH=/usr/local/bin:/usr/bin:/bin", "HOME="} {
		if !strings.Contains(res.Stdout, want) {
			t.Fatalf("env lacks %s:\n%s", want, res.Stdout)
		}
	}
	// ls opens one fd of its own for the directory listing (3).
	if _, fds, _ := strings.Cut(res.Stdout, "\n\n"); fds != "0\n1\n2\n3\n" {
		t.Fatalf("unexpected fds: %q", fds)
	}
	assertEmpty(t, base)
}

func TestFilesArgsStdinCollect(t *testing.T) {
	needLang(t, "python")
	sb, base := newSandbox(t)
	res := run(t, sb, &sandrun.Request{
		Language: "python",
		Code:     "import sys\nfrom helper import twice\nprint(twice(int(open('data/n.txt').read())), sys.argv[1:], sys.stdin.read())\nopen('out.txt','w').write('result')",
		Files: []sandrun.InputFile{
			{Name: "helper.py", Content: "def twice(x): return 2 * x\n"},
			{Name: "data/n.txt", Content: "MjE=", Encoding: "base64"},
		},
		Args:    []string{"a", "b"},
		Stdin:   "from stdin",
		Collect: []string{"*.txt"},
	})
	if res.Status != sandrun.StatusOK {
		t.Fatalf("%s %s %s", res.Status, res.Error, res.Stderr)
	}
	if res.Stdout != "42 ['a', 'b'] from stdin\n" {
		t.Fatalf("stdout %q", res.Stdout)
	}
	if len(res.Files) != 1 || res.Files[0].Name != "out.txt" || string(res.Files[0].Content) != "result" || res.Files[0].SHA256 == "" {
		t.Fatalf("files %+v", res.Files)
	}
	assertEmpty(t, base)
}

func TestDaemonAndProcessGroupKilled(t *testing.T) {
	needLang(t, "bash")
	sb, base := newSandbox(t)
	marker := filepath.Join(t.TempDir(), "alive")
	// A background child in the program's group must die with the run.
	res := run(t, sb, &sandrun.Request{Language: "bash", Code: "(sleep 2; touch " + marker + ") & echo started"})
	if res.Status != sandrun.StatusOK {
		t.Fatalf("%s %s", res.Status, res.Stderr)
	}
	time.Sleep(2500 * time.Millisecond)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("background child outlived the run")
	}
	assertEmpty(t, base)
}

func TestManyRunsLeaveNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("1000 runs")
	}
	needLang(t, "bash")
	sb, base := newSandbox(t)
	for i := 0; i < 1000; i++ {
		req := &sandrun.Request{Language: "bash", Code: "echo hi > f; mkdir -p d/e; chmod 000 d"}
		if i%10 == 0 {
			req.Code = "sleep 5"
			req.Limits.WallTime = sandrun.Duration(20 * time.Millisecond)
		}
		res := run(t, sb, req)
		if i%10 == 0 && res.Status != sandrun.StatusTimeout || i%10 != 0 && res.Status != sandrun.StatusOK {
			t.Fatalf("run %d: %s %s", i, res.Status, res.Stderr)
		}
	}
	assertEmpty(t, base)
}

func TestSweepRemovesDeadSupervisorDirs(t *testing.T) {
	base := t.TempDir()
	// A directory named for a pid that cannot exist, and one of ours.
	stale := filepath.Join(base, "sandrun-999999999-abc")
	mine := filepath.Join(base, "sandrun-"+strconv.Itoa(os.Getpid())+"-abc")
	other := filepath.Join(base, "not-ours")
	for _, d := range []string{stale, mine, other} {
		if err := os.MkdirAll(filepath.Join(d, "x"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := process.New(process.Options{Languages: lang.NewRegistry(lang.Options{}), BaseDir: base}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatal("stale dir not swept")
	}
	for _, d := range []string{mine, other} {
		if _, err := os.Stat(d); err != nil {
			t.Fatalf("%s removed: %v", d, err)
		}
	}
}
