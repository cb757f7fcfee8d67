package starlib_test

import (
	"strings"
	"testing"

	"github.com/sandrun/sandrun/internal/starlib"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Python's answers for the rounding built-ins, the error cases among them.
func TestRounding(t *testing.T) {
	cases := []struct{ expr, want string }{
		{"round(2.5)", "2"},
		{"round(3.5)", "4"},
		{"round(-2.5)", "-2"},
		{"round(7)", "7"},
		{"round(78.53981633974483, 2)", "78.54"},
		{"round(1250, -2)", "1200"},
		{"ceil(1.2)", "2"},
		{"ceil(-1.2)", "-1"},
		{"floor(-1.2)", "-2"},
		{"floor(5)", "5"},
		{"round(float('nan'))", "error: round: cannot convert nan to an integer"},
		{"ceil(float('inf'))", "error: ceil: cannot convert +inf to an integer"},
		{"floor('x')", "error: floor: want a number, got string"},
		{"round('x')", "error: round: want a number, got string"},
	}
	env := starlib.MathEnv()
	for _, c := range cases {
		v, err := starlark.EvalOptions(&syntax.FileOptions{}, &starlark.Thread{}, "t.star", c.expr, env)
		got := ""
		if err != nil {
			got = "error: " + err.Error()
		} else {
			got = v.String()
		}
		if got != c.want && !(strings.HasPrefix(c.want, "error: ") && strings.HasPrefix(got, c.want)) {
			t.Errorf("%s = %s, want %s", c.expr, got, c.want)
		}
	}
}
