package analyze_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/analyze"
)

func measure(t *testing.T, lang, code string) analyze.Metrics {
	t.Helper()
	m, err := analyze.Measure(lang, code)
	if err != nil {
		t.Fatalf("%s: %v", lang, err)
	}
	return m
}

func TestPython(t *testing.T) {
	code := `
import math

def primes(n):
    """for while for while: a docstring is not a loop"""
    out = []
    for i in range(2, n):          # for j in x: a comment is not a loop
        ok = True
        for p in out:
            if p * p > i:
                break
            if i % p == 0:
                ok = False
        if ok:
            out.append(i)
    return out

squares = [x * x for x in range(10) if x % 2]
s = "while True: print('x')"
print(len(primes(50)), math.sqrt(sum(squares)), s)
`
	m := measure(t, "python", code)
	want := analyze.Metrics{Loops: 3, Calls: 8, Depth: 4, Statements: 17, Size: len(code)}
	if m != want {
		t.Errorf("got %+v want %+v", m, want)
	}
}

func TestJavaScript(t *testing.T) {
	code := "// for (;;) {} in a comment\n" +
		"const s = `while (true) { run() }`; const r = /for\\(;;\\)/;\n" +
		`function fib(n) {
  let a = 0, b = 1;
  for (let i = 0; i < n; i++) {
    [a, b] = [b, a + b];
  }
  return a;
}
const xs = [1, 2, 3].map((x) => { if (x > 1) { return x * 2; } return x; });
let k = 0;
while (k < 3) k++;
do { k--; } while (k > 0);
for (const x of xs) console.log(fib(x), new Date(0).getTime());
console.log(s, r);
`
	m := measure(t, "javascript", code)
	want := analyze.Metrics{Loops: 4, Calls: 6, Depth: 2, Statements: 19, Size: len(code)}
	if m != want {
		t.Errorf("got %+v want %+v", m, want)
	}
}

func TestBash(t *testing.T) {
	code := `#!/bin/bash
# for i in 1 2 3; do echo; done   (comment)
msg='while true; do :; done'
greet() {
  for name in "$@"; do
    if [ -n "$name" ]; then
      echo "hello $name"
    fi
  done
}
greet a b
i=0
until [ $i -ge 3 ]; do i=$((i+1)); done
echo "$msg" | tr a-z A-Z
`
	m := measure(t, "bash", code)
	want := analyze.Metrics{Loops: 2, Calls: 6, Depth: 4, Statements: 15, Size: len(code)}
	if m != want {
		t.Errorf("got %+v want %+v", m, want)
	}
}

func TestStarlark(t *testing.T) {
	code := `
# for x in y: a comment
s = "while True: pass"
def total(xs):
    t = 0
    for x in xs:
        if x > 0:
            t += x
    return t
evens = [x for x in range(10) if x % 2 == 0]
result = total(evens) + len(s)
`
	m := measure(t, "starlark", code)
	want := analyze.Metrics{Loops: 2, Calls: 3, Depth: 3, Statements: 9, Size: len(code)}
	if m != want {
		t.Errorf("got %+v want %+v", m, want)
	}
}

func TestRejectNamesEveryLimit(t *testing.T) {
	a, err := analyze.New(analyze.Limits{MaxLoops: 1, MaxCalls: 2, MaxDepth: 1, MaxStatements: 100})
	if err != nil {
		t.Fatal(err)
	}
	code := "for i in range(3):\n    for j in range(3):\n        print(i, j)\n"
	err = a.Analyze("python", code)
	var rej *sandrun.RejectError
	if !errors.As(err, &rej) {
		t.Fatalf("want a RejectError, got %v", err)
	}
	for _, part := range []string{"loops 2 (limit 1)", "calls 3 (limit 2)", "nesting depth 2 (limit 1)"} {
		if !strings.Contains(rej.Msg, part) {
			t.Errorf("%q does not name %q", rej.Msg, part)
		}
	}
	if strings.Contains(rej.Msg, "statements") {
		t.Errorf("%q names a limit that was not exceeded", rej.Msg)
	}
	// Under the limits: accepted.
	if err := a.Analyze("python", "print('for while for while')\n"); err != nil {
		t.Errorf("simple code rejected: %v", err)
	}
}

// Code that fools a regex counter: loop keywords in strings, comments,
// identifiers; the parser sees none of them.
func TestRegexFoolers(t *testing.T) {
	a, _ := analyze.New(analyze.Limits{MaxLoops: 0 + 1})
	for lang, code := range map[string]string{
		"python":     "format_ = 'for x in y: while 1: pass'  # for for for\nwhile_count = 1\nprint(format_, while_count)\n",
		"javascript": "const forEach_ = 'for(;;){} while(1){}'; /* for (;;) */ const whileX = 1; console.log(forEach_, whileX);",
		"bash":       "echo 'for i in 1 2; do :; done' # while true\nfor_x=1; echo \"while $for_x\"\n",
		"starlark":   "s = 'for x in y: while True'  # for\nfor_ = 1\n",
	} {
		m := measure(t, lang, code)
		if m.Loops != 0 {
			t.Errorf("%s: counted %d loops in loop-free code", lang, m.Loops)
		}
		if err := a.Analyze(lang, code+code); err != nil {
			t.Errorf("%s: rejected loop-free code: %v", lang, err)
		}
	}
	// And loops a regex for "for"/"while" at line start would miss.
	for lang, code := range map[string]string{
		"python":     "x = [i for i in range(3)]; y = {k: v for k, v in zip('ab', 'cd')}\n",
		"javascript": "let i = 0; if (1) while (i < 2) i++; [1].forEach(x => { for (;;) break; });",
		"bash":       "true && for i in 1 2; do :; done; x=$(while false; do :; done)\n",
		"starlark":   "x = [i for i in range(3)]\ny = [j for j in x]\n",
	} {
		if m := measure(t, lang, code); m.Loops != 2 {
			t.Errorf("%s: %d loops, want 2", lang, m.Loops)
		}
	}
}

func TestDepthWithoutBraces(t *testing.T) {
	// Nesting without blocks still nests.
	m := measure(t, "javascript", "if (a) if (b) if (c) for (;;) x();")
	if m.Depth != 4 {
		t.Errorf("depth %d, want 4", m.Depth)
	}
}

func TestSizeAndParseErrors(t *testing.T) {
	a, _ := analyze.New(analyze.Limits{MaxSize: 10, MaxLoops: 5})
	var rej *sandrun.RejectError
	if err := a.Analyze("python", strings.Repeat("x", 11)); !errors.As(err, &rej) || !strings.Contains(rej.Msg, "size 11 bytes (limit 10)") {
		t.Errorf("size: %v", err)
	}
	b, _ := analyze.New(analyze.Limits{MaxLoops: 5})
	for lang, code := range map[string]string{"javascript": "function (", "bash": "if then fi", "starlark": "def ("} {
		if err := b.Analyze(lang, code); !errors.As(err, &rej) || !strings.Contains(rej.Msg, "cannot be checked") {
			t.Errorf("%s: want a fail-closed reject, got %v", lang, err)
		}
	}
	// Off: nothing is parsed, nothing refused.
	off, _ := analyze.New(analyze.Limits{})
	if err := off.Analyze("javascript", "function ("); err != nil {
		t.Errorf("limits off refused code: %v", err)
	}
	if _, err := analyze.New(analyze.Limits{MaxCalls: -1}); err == nil || !strings.Contains(err.Error(), "max_calls") {
		t.Errorf("negative limit: %v", err)
	}
}

// A deeply nested parser bomb is measured without blowing the stack.
func TestDeepNesting(t *testing.T) {
	code := strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n"
	m, err := analyze.Measure("python", code)
	if err != nil {
		t.Fatal(err)
	}
	if m.Statements != 1 {
		t.Errorf("statements %d", m.Statements)
	}
}

func TestImports(t *testing.T) {
	code := `import os, numpy.linalg as la
from pandas import DataFrame
from . import sibling
from .pkg import x
import matplotlib.pyplot as plt
s = "import scipy"  # import sklearn
def f():
    import seaborn
    from os import path
`
	got, err := analyze.ImportFinder{}.Imports("py", code)
	if err != nil {
		t.Skip(err) // no cgo
	}
	want := []string{"os", "numpy", "pandas", "matplotlib", "seaborn"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("%v, want %v", got, want)
	}
	if got, _ := (analyze.ImportFinder{}).Imports("javascript", `import x from "numpy"`); got != nil {
		t.Fatalf("javascript: %v", got)
	}
}
