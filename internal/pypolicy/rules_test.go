package pypolicy_test

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sandrun/sandrun/internal/pypolicy"
	"github.com/sandrun/sandrun/internal/pypolicy/corpus"
)

// TestEscapesRefused: every escape of the corpus is refused by the policy
// before its payload runs, with the policy's reason.
func TestEscapesRefused(t *testing.T) {
	target := corpus.Target{SecretFile: "/nonexistent/secret", Port: 1, EnvSecret: "no-such-value"}
	reason := regexp.MustCompile(`invalid (variable|attribute|function|argument|module|class) name|restricted name|not allowed in restricted python|not supported in restricted python|is not defined|has no attribute|attribute name must be a string`)
	for _, e := range corpus.Escapes() {
		t.Run(e.Name, func(t *testing.T) {
			o := run(t, e.Program(target))
			if strings.Contains(o.stdout, "ESCAPED") {
				t.Fatalf("escaped: %s", o.stdout)
			}
			if o.done.Status != "compile_error" && o.done.Status != "exit_error" {
				t.Fatalf("status %s: %s", o.done.Status, o.done.Error)
			}
			if !reason.MatchString(o.done.Error) {
				t.Fatalf("refused for another reason: %s\n%s", o.done.Error, o.stderr)
			}
			t.Logf("%s: %s", o.done.Status, o.done.Error)
		})
	}
}

// TestEscapesWorkWithoutPolicy: the corpus is real: without the policy
// every escape gets out (here, outside any OS sandbox, against the test's
// own file, listener and environment).
func TestEscapesWorkWithoutPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the corpus twice")
	}
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("the-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Setenv("PYPOLICY_TEST_SECRET", "env-secret-value")
	target := corpus.Target{SecretFile: secret, Port: ln.Addr().(*net.TCPAddr).Port, EnvSecret: "env-secret-value"}
	for _, e := range corpus.Escapes() {
		t.Run(e.Name, func(t *testing.T) {
			o := runPolicy(t, pypolicy.Config{Code: e.Program(target), Policy: false})
			want := "ESCAPED read:the-secret exec:exec-ran"
			if e.Kind == corpus.Disclosure {
				want = "env-secret-value"
			}
			if !strings.Contains(o.stdout, want) {
				t.Fatalf("the escape did not get out: %q\n%s", o.stdout, o.stderr)
			}
		})
	}
}

// TestRules: what the policy allows and refuses, and how it says so.
func TestRules(t *testing.T) {
	for _, c := range []struct {
		name, code string
		status     string
		out        string // stdout (ok) or a substring of the error
	}{
		{"underscore name", "x = 1\n_y = 2", "compile_error", `Line 2: "_y" is an invalid variable name because it starts with "_"`},
		{"underscore attribute", "x = (1).__class__", "compile_error", `Line 1: "__class__" is an invalid attribute name`},
		{"inspect attribute", "def g():\n    yield 1\nf = g().gi_frame", "compile_error", `Line 3: "gi_frame" is a restricted name`},
		{"every reason listed", "a = _x\nb = y.__dict__", "compile_error", `Line 1: "_x" is an invalid variable name because it starts with "_"; Line 2: "__dict__"`},
		{"mro", "x = int.mro()", "compile_error", `"mro" is a restricted name`},
		{"dunder method defs", "class P:\n    def __init__(self, x):\n        self.x = x\n    def __repr__(self):\n        return 'P(%d)' % self.x\n    def __eq__(self, o):\n        return self.x == o.x\nprint(P(1), P(1) == P(1))", "ok", "P(1) True\n"},
		{"dunder def outside a class", "def __init__():\n    pass", "compile_error", `"__init__" is an invalid function name`},
		{"dunder hook in a class", "class A:\n    def __getattribute__(self, n):\n        return 1", "compile_error", `"__getattribute__" is an invalid function name`},
		{"__name__ main", "if __name__ == '__main__':\n    print('main')", "ok", "main\n"},
		{"getattr computed", "getattr(1, '__cl' + 'ass__')", "exit_error", `"__class__" is an invalid attribute name`},
		{"getattr default does not hide a refusal", "getattr(1, '__class__', None)", "exit_error", `invalid attribute name`},
		{"getattr plain", "print(getattr([1], 'count')(1), hasattr(1, 'real'), hasattr(1, 'nope'))", "ok", "1 True False\n"},
		{"type one argument", "print(type(1) is int, type('') == str)", "ok", "True True\n"},
		{"type three arguments", "X = type('X', (), {})", "exit_error", "type() takes one argument"},
		{"metaclass not handed out", "class A:\n    pass\nprint(type(A) is type)", "ok", "True\n"},
		{"attribute write on own class", "class A:\n    pass\na = A()\na.v = 1\nA.w = 2\nsetattr(a, 'z', 3)\nprint(a.v, a.w, a.z)", "ok", "1 2 3\n"},
		{"attribute write on a module", "import math\nmath.pi = 3", "exit_error", "cannot set or delete attributes of a 'module' object"},
		{"attribute write on a function", "def f():\n    pass\nf.x = 1", "exit_error", "cannot set or delete attributes of a 'function' object"},
		{"format plain", "print('{} {:>3} {x}'.format(1, 2, x=3), '{a}'.format_map({'a': 4}), str.format('{0}', 5))", "ok", "1   2 3 4 5\n"},
		{"format attribute walk", "print('{0.__class__}'.format(1))", "exit_error", `"__class__" is an invalid attribute name`},
		{"format attribute fine", "print('{0.real}'.format(3))", "ok", "3\n"},
		{"import allowlist", "import json, re, math\nfrom collections import Counter\nfrom collections.abc import Mapping\nprint(Counter('aab')['a'], json.dumps([1]))", "ok", "2 [1]\n"},
		{"import submodule outside", "import json.decoder", "exit_error", "import of 'json.decoder' is not allowed"},
		{"from import a left-out name", "from typing import get_type_hints", "exit_error", "cannot import name 'get_type_hints'"},
		{"star import", "from math import *", "compile_error", `"*" imports are not allowed`},
		{"relative import", "from . import x", "exit_error", "relative imports are not allowed"},
		{"module views hold no modules", "import dataclasses\nprint(hasattr(dataclasses, 'sys'), hasattr(dataclasses, 'dataclass'))", "ok", "False True\n"},
		{"no open", "open('/etc/passwd')", "exit_error", "NameError: name 'open' is not defined"},
		{"predeclared math", "print(math.floor(2.5), json.dumps({'a': 1}))", "ok", "2 {\"a\": 1}\n"},
		{"datetime strftime (a lazy C import)", "import datetime\nprint(datetime.date(2024, 1, 2).strftime('%Y/%m'))", "ok", "2024/01\n"},
		{"async", "async def f():\n    pass", "compile_error", "async functions are not supported"},
		{"except star", "try:\n    pass\nexcept* ValueError:\n    pass", "compile_error", "try/except* is not supported"},
		{"syntax error", "def f(:\n", "compile_error", "SyntaxError"},
		{"exception traceback", "def f():\n    return 1 / 0\nf()", "exit_error", "ZeroDivisionError: division by zero"},
		{"exit code", "exit(3)", "exit_error", "exited with code 3"},
		{"exit zero", "print('x')\nexit()", "ok", "x\n"},
		{"host call", "print(double(21))", "ok", "42\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := pypolicy.Config{Code: c.code, Policy: true, MaxSteps: 50_000_000, Modules: []string{"math", "json"},
				Host: []byte(`[{"name":"double","func":1}]`)}
			o := runPolicy(t, cfg)
			if o.done.Status != c.status {
				t.Fatalf("status %s (%s), want %s\nstdout %q\nstderr %s", o.done.Status, o.done.Error, c.status, o.stdout, o.stderr)
			}
			if c.status == "ok" && o.stdout != c.out {
				t.Fatalf("stdout %q, want %q\nstderr %s", o.stdout, c.out, o.stderr)
			}
			if c.status != "ok" && !strings.Contains(o.done.Error, c.out) {
				t.Fatalf("error %q lacks %q\nstderr %s", o.done.Error, c.out, o.stderr)
			}
		})
	}
}

// TestStepBudget: the budget ends loops, comprehensions and recursion,
// and no except clause catches it.
func TestStepBudget(t *testing.T) {
	for name, code := range map[string]string{
		"while":          "while True:\n    pass",
		"for":            "import itertools\nfor i in itertools.count():\n    pass",
		"comprehension":  "import itertools\nx = sum(i for i in itertools.count())",
		"caught":         "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass",
		"calls":          "def f(n):\n    return n\nwhile True:\n    try:\n        f(1)\n    except BaseException:\n        pass",
		"finally resets": "try:\n    while True:\n        pass\nfinally:\n    while True:\n        pass",
	} {
		t.Run(name, func(t *testing.T) {
			o := runPolicy(t, pypolicy.Config{Code: code, Policy: true, MaxSteps: 200_000})
			if o.done.Status != "cpu_limit" || !strings.Contains(o.done.Error, "step budget of 200000 steps") {
				t.Fatalf("%+v %s", o.done, o.stderr)
			}
		})
	}
	o := runPolicy(t, pypolicy.Config{Code: "s = 0\nfor i in range(1000):\n    s += i\nprint(s)", Policy: true, MaxSteps: 2_000})
	if o.done.Status != "ok" || o.stdout != "499500\n" {
		t.Fatalf("under the budget: %+v %q", o.done, o.stdout)
	}
}

// TestVariables: the JSON-representable top-level names, as the
// Starlark tier reports them.
func TestVariables(t *testing.T) {
	o := run(t, "import math\nx = 1\nf = 2.0\nbig = 1 << 5000\nnan = float('nan')\nd = {'a': [1, (2, 3)], 1: None}\nb = b'hi'\ns = {1}\ndef g():\n    pass\nclass K:\n    pass\nk = K()\n")
	got := vars(t, o)
	for _, want := range []string{`"x":1`, `"f":2.0`, `"big":"\u003cint with 5001 bits\u003e"`, `"nan":"nan"`, `"d":{"a":[1,[2,3]],"1":null}`, `"b":"aGk="`, `"s":[1]`, `"g":"\u003cfunction\u003e"`, `"k":"\u003cK\u003e"`} {
		if !strings.Contains(got, want) && !strings.Contains(strings.NewReplacer("<", `\u003c`, ">", `\u003e`).Replace(got), want) {
			t.Errorf("variables %s lack %s", got, want)
		}
	}
	if strings.Contains(got, `"math"`) || strings.Contains(got, `"json"`) {
		t.Errorf("modules in the variables: %s", got)
	}
	o = runPolicy(t, pypolicy.Config{Code: "a = list(range(100000))\nsmall = 1\n", Policy: true, MaxVariableBytes: 4096})
	if got := vars(t, o); len(got) > 8192 || !strings.Contains(got, "not shown") || !strings.Contains(got, `"small":1`) {
		t.Errorf("capped variables (%d bytes): %.200s", len(got), got)
	}
}

// TestAllowedModulesMatch: the Go list is policy.py's.
func TestAllowedModulesMatch(t *testing.T) {
	o := run(t, "import json\nprint(json.dumps(sorted(['x'])))")
	_ = o
	src := pypolicy.Source()
	i := strings.Index(src, "ALLOWED_MODULES = (")
	j := strings.Index(src[i:], ")")
	var got []string
	for _, m := range regexp.MustCompile(`"([a-z]+)"`).FindAllStringSubmatch(src[i:i+j], -1) {
		got = append(got, m[1])
	}
	if !slices.Equal(got, pypolicy.AllowedModules()) {
		t.Fatalf("policy.py %v, Go %v", got, pypolicy.AllowedModules())
	}
}

// TestTracebackIsTheProgram's: a traceback shows the program's frames,
// the whole chain (cause and context), and none of the policy's
// (internal/pytb).
func TestTracebackIsTheProgram(t *testing.T) {
	o := run(t, "def f():\n    return 1 / 0\ntry:\n    f()\nexcept ZeroDivisionError as e:\n    raise ValueError('again') from e\n")
	for _, want := range []string{`File "main.py", line 4, in <module>`, `File "main.py", line 2, in f`, "ZeroDivisionError: division by zero",
		"The above exception was the direct cause", `File "main.py", line 6, in <module>`, "ValueError: again"} {
		if !strings.Contains(o.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, o.stderr)
		}
	}
	if strings.Contains(o.stderr, "policy.py") {
		t.Errorf("the policy's frames are shown:\n%s", o.stderr)
	}
}
