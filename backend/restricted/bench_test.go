package restricted_test

import (
	"context"
	"os/exec"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/restricted"
)

// seedMathPython is seedMath as Python, for the baseline: one python3 -c.
const seedMathPython = `from math import sqrt, sin, cos, log, ceil, floor, pi, e
a = 3
b = 4
c = sqrt(a * a + b * b)
print("Hypotenuse:", c)
radius = 5
area = round(pi * radius * radius, 2)
circumference = round(2 * pi * radius, 2)
print("Area:", area)
print("Circumference:", circumference)
print("checks:", floor(e), ceil(e), abs(-2), min(3, 1), max(3, 1), round(sin(0) + cos(0) + log(1), 1))
`

// BenchmarkSeedMath runs the seed's math example through the restricted
// tier (warm worker; in process) and, as the baseline, python3 -c of the
// same code. `sandrun bench -only restricted` measures the same
// interleaved, with the ratio.
func BenchmarkSeedMath(b *testing.B) {
	ctx := context.Background()
	for _, inproc := range []bool{false, true} {
		name := "restricted-worker"
		if inproc {
			name = "restricted-inprocess"
		}
		b.Run(name, func(b *testing.B) {
			sb := newSandbox(b, restricted.Options{Predeclared: restricted.MathEnv(), InProcess: inproc})
			req := &sandrun.Request{Language: "starlark", Code: seedMath}
			for b.Loop() {
				res, err := sb.Run(ctx, req)
				if err != nil || res.Status != sandrun.StatusOK || res.Stdout != seedMathOut {
					b.Fatalf("%v %+v", err, res)
				}
			}
		})
	}
	b.Run("python3-c", func(b *testing.B) {
		py, err := exec.LookPath("python3")
		if err != nil {
			b.Skip("no python3")
		}
		for b.Loop() {
			out, err := exec.Command(py, "-c", seedMathPython).Output()
			if err != nil || string(out) != seedMathOut {
				b.Fatalf("%v %q", err, out)
			}
		}
	})
}
