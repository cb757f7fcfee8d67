package restricted_test

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/process"
	"github.com/sandrun/sandrun/backend/restricted"
	"github.com/sandrun/sandrun/lang"
)

func TestPythonOnlyConstructsAreCompileErrors(t *testing.T) {
	sb := newSandbox(t, restricted.Options{})
	for code, what := range map[string]string{
		"import os\nos.system('id')":                   "import statements",
		"from subprocess import run":                   "import statements",
		"class A:\n    pass":                           "class definitions",
		"try:\n    x = 1\nexcept Exception:\n    pass": "try/except",
		"x = 2 ** 10":                                  "** power operator",
		"x = 1\nprint(f\"{x}\")":                       "f-strings",
		"load('x.star', 'y')":                          "load() is not supported",
		"with open('f') as f:\n    pass":               "with statements",
	} {
		res := run(t, sb, code, sandrun.Limits{})
		wantStatus(t, res, sandrun.StatusCompileError)
		if !strings.Contains(res.Error+res.Stderr, what) {
			t.Errorf("%q: message %q / %q does not say %q", code, res.Error, res.Stderr, what)
		}
		if what != "load() is not supported" && !strings.Contains(res.Stderr, "--backend jail") {
			t.Errorf("%q: message does not point to the jail tier: %q", code, res.Stderr)
		}
	}
}

func TestErrorsHaveLineAndColumn(t *testing.T) {
	sb := newSandbox(t, restricted.Options{})
	res := run(t, sb, "x = 1\ny = x + \"a\"\n", sandrun.Limits{})
	wantStatus(t, res, sandrun.StatusExitError)
	if !regexp.MustCompile(`main\.star:2:7`).MatchString(res.Stderr) || res.ExitCode != 1 {
		t.Fatalf("stderr %q (exit %d) lacks main.star:2:7", res.Stderr, res.ExitCode)
	}
	res = run(t, sb, "x = 1\ny = x +* 2\n", sandrun.Limits{})
	wantStatus(t, res, sandrun.StatusCompileError)
	if !strings.Contains(res.Stderr, "main.star:2:8") {
		t.Fatalf("stderr %q lacks main.star:2:8", res.Stderr)
	}
	res = run(t, sb, "fail('no good')", sandrun.Limits{})
	wantStatus(t, res, sandrun.StatusExitError)
	if !strings.Contains(res.Stderr, "no good") {
		t.Fatalf("stderr %q", res.Stderr)
	}
}

const dialectCode = `
seen = set([1, 2])
n = 0
while n < 3:
    n += 1
def fact(k):
    return 1 if k <= 1 else k * fact(k - 1)
n = fact(5)
print(n, len(seen))
`

func TestDialectDefaultsAndStrict(t *testing.T) {
	sb := newSandbox(t, restricted.Options{})
	res := run(t, sb, dialectCode, sandrun.Limits{})
	wantStatus(t, res, sandrun.StatusOK)
	if res.Stdout != "120 2\n" {
		t.Fatalf("stdout %q", res.Stdout)
	}
	strict := newSandbox(t, restricted.Options{Dialect: &restricted.Dialect{}})
	res = run(t, strict, dialectCode, sandrun.Limits{})
	wantStatus(t, res, sandrun.StatusCompileError)
}

func TestModulesAndClock(t *testing.T) {
	sb := newSandbox(t, restricted.Options{})
	res := run(t, sb, `print(math.sqrt(16), json.encode({"a": [1, 2]}), time.parse_duration("1s"))`, sandrun.Limits{})
	wantStatus(t, res, sandrun.StatusOK)
	if res.Stdout != "4.0 {\"a\":[1,2]} 1s\n" {
		t.Fatalf("stdout %q", res.Stdout)
	}
	res = run(t, sb, `print(time.now())`, sandrun.Limits{})
	wantStatus(t, res, sandrun.StatusExitError)
	if !strings.Contains(res.Stderr, "no wall clock") {
		t.Fatalf("stderr %q", res.Stderr)
	}
	clock := newSandbox(t, restricted.Options{WallClock: true, Modules: []string{"time"}})
	res = run(t, clock, `print(time.now().year > 2000)`, sandrun.Limits{})
	wantStatus(t, res, sandrun.StatusOK)
	res = run(t, clock, `print(math.pi)`, sandrun.Limits{})
	wantStatus(t, res, sandrun.StatusCompileError) // math is not allowlisted there
	if _, err := restricted.New(restricted.Options{Modules: []string{"os"}}); err == nil || !strings.Contains(err.Error(), "Options.Modules") {
		t.Fatalf("unknown module accepted: %v", err)
	}
}

func TestOnlyStarlarkAndNoFilesystem(t *testing.T) {
	sb := newSandbox(t, restricted.Options{})
	res, err := sb.Run(context.Background(), &sandrun.Request{Language: "javascript", Code: "print(1)", Backend: "restricted"})
	if err == nil || !strings.Contains(res.Error, "the restricted tier runs starlark") {
		t.Fatalf("javascript accepted: %v %+v", err, res)
	}
	res, err = sb.Run(context.Background(), &sandrun.Request{Language: "starlark", Code: "print(1)",
		Files: []sandrun.InputFile{{Name: "a", Content: "x"}}})
	if err == nil || res.Status != sandrun.StatusRejected || !strings.Contains(res.Error, "files") {
		t.Fatalf("files accepted: %v %+v", err, res)
	}
}

// The same interpreter is the starlark language of the OS tiers: the
// process tier runs this test binary as "__child starlark-file".
func TestStarlarkOnTheProcessTier(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	langs := lang.NewRegistry(lang.Options{Extra: []lang.Spec{restricted.LanguageSpec(exe)}})
	l, err := langs.Lookup(context.Background(), "starlark")
	if err != nil {
		t.Fatal(err)
	}
	if l.Interpreter == "" || l.Argv[1] != "__child" || l.Version == "" || !contains(l.Paths, l.Interpreter) {
		t.Fatalf("language %+v", l)
	}
	proc, err := process.New(process.Options{Languages: langs, BaseDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{proc}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := sb.Run(context.Background(), &sandrun.Request{Language: "starlark", Code: seedMath})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, res, sandrun.StatusOK)
	if res.Stdout != seedMathOut {
		t.Fatalf("stdout %q, want %q", res.Stdout, seedMathOut)
	}
	res, _ = sb.Run(context.Background(), &sandrun.Request{Language: "starlark", Code: "import os"})
	wantStatus(t, res, sandrun.StatusExitError)
	if !strings.Contains(res.Stderr, "import statements") {
		t.Fatalf("stderr %q", res.Stderr)
	}
	if !restricted.RaceEnabled {
		res, _ = sb.Run(context.Background(), &sandrun.Request{Language: "starlark", Code: "x = 'a' * (900 << 20)"})
		wantStatus(t, res, sandrun.StatusMemoryLimit)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
