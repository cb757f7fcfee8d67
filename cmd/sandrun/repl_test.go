package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestContinues(t *testing.T) {
	for _, c := range []struct {
		block []string
		want  bool
	}{
		{[]string{"x = 1"}, false},
		{[]string{"def f():"}, true},
		{[]string{"def f():", "    return 1"}, true},
		{[]string{"def f():", "    return 1", ""}, false},
		{[]string{"function f() {"}, true},
		{[]string{"function f() {", "  return 1", "}"}, false},
		{[]string{"print((1,"}, true},
		{[]string{"print((1,", "2))"}, false},
		{[]string{"x = 1  # note: not a block"}, false},
		{[]string{"d = {'a:': 1}"}, false},
		{[]string{"s = '''first"}, true},
		{[]string{"s = '''first", "second'''"}, false},
		{[]string{"s = '(' + \"[\""}, false},
		{[]string{"x = 1 + \\"}, true},
		{[]string{"this.#count = {"}, true},
		{[]string{"for i in range(3):  # loop", "    print(i)", ""}, false},
	} {
		if got := continues(c.block); got != c.want {
			t.Errorf("continues(%q) = %v", c.block, got)
		}
	}
}

func TestDefaultHistoryPath(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"XDG_STATE_HOME": "/s", "HOME": "/h"}, "/s/sandrun/repl_history"},
		{map[string]string{"XDG_STATE_HOME": "rel", "HOME": "/h"}, "/h/.local/state/sandrun/repl_history"},
		{map[string]string{}, ""},
	} {
		if got := defaultHistoryPath(env(c.env)); got != c.want {
			t.Errorf("%v: %q, want %q", c.env, got, c.want)
		}
	}
}

// TestRepl drives the REPL through a pipe: state persists, a block runs
// as one step, expression values are echoed, errors do not end the
// session, sys.exit ends it with its code. (repl_pty_test.go types into
// a terminal.)
func TestRepl(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a sandboxed interpreter")
	}
	for _, c := range []struct {
		lang, backend, in, want string
		code                    int
	}{
		{"python", "auto", "x = 20\ndef f(v):\n    return v + 1\n\n1/0\nprint(f(x) * 2)\nf(x)\n", "42\n21\n", 0},
		{"python", "auto", "print('a')\nimport sys; sys.exit(7)\nprint('never')\n", "a\n", 7},
		{"javascript", "process", "var x = 20\nfunction f(v) {\n  return v + 1\n}\nconsole.log(f(x) * 2)\n", "42\n", 0},
		{"starlark", "process", "x = 20\ndef f(v):\n    return v + 1\n\nprint(f(x) * 2)\n", "42\n", 0},
	} {
		var out, errb bytes.Buffer
		code := Main(context.Background(), &cliEnv{stdin: strings.NewReader(c.in), stdout: &out, stderr: &errb},
			[]string{"repl", "--lang", c.lang, "--backend", c.backend, "--history", ""})
		if code != c.code || out.String() != c.want {
			t.Errorf("%s: exit %d stdout %q stderr %q", c.lang, code, out.String(), errb.String())
		}
	}
}
