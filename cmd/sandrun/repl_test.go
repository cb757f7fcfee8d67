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
		{[]string{"print((1,"}, true},
	} {
		if got := continues(c.block); got != c.want {
			t.Errorf("continues(%q) = %v", c.block, got)
		}
	}
}

// TestRepl drives the REPL through a pipe: state persists, a block runs
// as one step, errors do not end the session.
func TestRepl(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a sandboxed interpreter")
	}
	for _, c := range []struct{ lang, backend, in, want string }{
		{"python", "auto", "x = 20\ndef f(v):\n    return v + 1\n\n1/0\nprint(f(x) * 2)\n", "42\n"},
		{"javascript", "process", "var x = 20\nfunction f(v) {\n  return v + 1\n}\n\nconsole.log(f(x) * 2)\n", "42\n"},
		{"starlark", "process", "x = 20\ndef f(v):\n    return v + 1\n\nprint(f(x) * 2)\n", "42\n"},
	} {
		var out, errb bytes.Buffer
		code := Main(context.Background(), &cliEnv{stdin: strings.NewReader(c.in), stdout: &out, stderr: &errb}, []string{"repl", "--lang", c.lang, "--backend", c.backend})
		if code != 0 || out.String() != c.want {
			t.Errorf("%s: exit %d stdout %q stderr %q", c.lang, code, out.String(), errb.String())
		}
	}
}
