package main

import (
	"context"
	"fmt"
	"os/exec"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/benchkit"
	"github.com/sandrun/sandrun/lang"
)

// seedMathStarlark is the seed's math example (hypotenuse and circle) as
// the restricted tier runs it, with the CLI's host environment
// (restricted.MathEnv: sqrt is a host function, round a built-in).
const seedMathStarlark = `a = 3
b = 4
c = sqrt(a * a + b * b)
print("Hypotenuse:", c)
radius = 5
area = pi * radius * radius
circumference = 2 * pi * radius
print("Area:", round(area, 2))
print("Circumference:", round(circumference, 2))
`

// seedMathPython is the same program for the baseline, one python3 -c:
// the names the restricted tier's environment provides come from math.
const seedMathPython = "from math import sqrt, pi\n" + seedMathStarlark

const seedMathOutput = "Hypotenuse: 5.0\nArea: 78.54\nCircumference: 31.42\n"

// benchRestricted: the seed's math example through the restricted tier
// (a warm worker, end to end through the Sandbox) against python3 -c of
// the same code, interleaved.
func benchRestricted(ctx context.Context, env *cliEnv, a *app, n int) error {
	l, err := a.langs.Lookup(ctx, lang.Python)
	if err != nil {
		return err
	}
	py := benchkit.Case{Name: "python3 -c", Run: func() error {
		out, err := exec.CommandContext(ctx, l.Interpreter, "-c", seedMathPython).Output()
		if err != nil {
			return err
		}
		if string(out) != seedMathOutput {
			return fmt.Errorf("python printed %q", out)
		}
		return nil
	}}
	req := &sandrun.Request{Language: lang.Starlark, Code: seedMathStarlark, Backend: "restricted"}
	tier := benchkit.Case{Name: "restricted", Run: func() error {
		res, err := a.sandbox.Run(ctx, req)
		if err != nil {
			return err
		}
		if res.Status != sandrun.StatusOK || res.Stdout != seedMathOutput {
			return fmt.Errorf("status %s: %s %q", res.Status, res.Error, res.Stdout)
		}
		return nil
	}}
	s, err := benchkit.Interleave(n, 3, py, tier)
	if err != nil {
		return err
	}
	benchkit.Report(env.stdout, "restricted tier vs python3 -c, the seed's math example", s)
	fmt.Fprintf(env.stdout, "restricted median %s; python3 -c is %.1fx slower\n",
		s[1].Median(), benchkit.Ratio(s[0].Median(), s[1].Median()))
	return nil
}
