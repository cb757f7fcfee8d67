package restricted_test

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/restricted"
	"go.starlark.net/starlark"
)

// seedMathEnv builds the seed's safe math environment through the Go API,
// as a host embedding sandrun would: Go functions and constants handed to
// the program as globals.
func seedMathEnv() starlark.StringDict {
	num := func(name string, args starlark.Tuple, kwargs []starlark.Tuple, nd *int) (float64, error) {
		var v starlark.Value
		if err := starlark.UnpackPositionalArgs(name, args, kwargs, 1, &v, nd); err != nil {
			return 0, err
		}
		x, ok := starlark.AsFloat(v)
		if !ok {
			return 0, fmt.Errorf("%s: want a number, got %s", name, v.Type())
		}
		return x, nil
	}
	unary := func(name string, f func(float64) float64) *starlark.Builtin {
		return starlark.NewBuiltin(name, func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			x, err := num(b.Name(), args, kwargs, new(int))
			if err != nil {
				return nil, err
			}
			return starlark.Float(f(x)), nil
		})
	}
	toInt := func(name string, f func(float64) float64) *starlark.Builtin {
		return starlark.NewBuiltin(name, func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			x, err := num(b.Name(), args, kwargs, new(int))
			if err != nil {
				return nil, err
			}
			return starlark.NumberToInt(starlark.Float(f(x)))
		})
	}
	round := starlark.NewBuiltin("round", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var nd int
		x, err := num("round", args, kwargs, &nd)
		if err != nil {
			return nil, err
		}
		p := math.Pow(10, float64(nd))
		return starlark.Float(math.RoundToEven(x*p) / p), nil
	})
	return starlark.StringDict{
		"sqrt": unary("sqrt", math.Sqrt), "sin": unary("sin", math.Sin), "cos": unary("cos", math.Cos),
		"log": unary("log", math.Log), "ceil": toInt("ceil", math.Ceil), "floor": toInt("floor", math.Floor),
		"round": round, "pi": starlark.Float(math.Pi), "e": starlark.Float(math.E),
		"abs": starlark.Universe["abs"], "min": starlark.Universe["min"], "max": starlark.Universe["max"],
	}
}

// seedMath is the seed's hypotenuse and circle example in Starlark (no **
// operator: a * a).
const seedMath = `a = 3
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

const seedMathOut = "Hypotenuse: 5.0\nArea: 78.54\nCircumference: 31.42\nchecks: 2 3 2 1 3 1.0\n"

func TestSeedMathThroughHostAPI(t *testing.T) {
	for _, inproc := range []bool{false, true} {
		t.Run(fmt.Sprintf("inprocess=%v", inproc), func(t *testing.T) {
			sb := newSandbox(t, restricted.Options{Predeclared: seedMathEnv(), InProcess: inproc})
			res := run(t, sb, seedMath, sandrun.Limits{})
			wantStatus(t, res, sandrun.StatusOK)
			if res.Stdout != seedMathOut {
				t.Fatalf("stdout %q, want %q", res.Stdout, seedMathOut)
			}
			for k, want := range map[string]string{"c": "5.0", "area": "78.54", "circumference": "31.42"} {
				if got := fmt.Sprint(res.Variables[k]); got != want {
					t.Errorf("variables[%s] = %s, want %s", k, got, want)
				}
			}
			if inproc != (len(res.Downgrades) > 0) {
				t.Errorf("downgrades %v for inprocess=%v", res.Downgrades, inproc)
			}
		})
	}
}

func TestMathEnvMatchesSeed(t *testing.T) {
	sb := newSandbox(t, restricted.Options{Predeclared: restricted.MathEnv()})
	res := run(t, sb, seedMath+"print(round(2.5), round(3.5), round(-1250, -2), log(8, 2))\n", sandrun.Limits{})
	wantStatus(t, res, sandrun.StatusOK)
	if want := seedMathOut + "2 4 -1200 3.0\n"; res.Stdout != want {
		t.Fatalf("stdout %q, want %q", res.Stdout, want)
	}
}

// The seed returns the program's namespace: total=15, average=3.0,
// squared=[1, 4, 9, 16, 25]. Values JSON cannot hold are shown by type.
func TestVariables(t *testing.T) {
	sb := newSandbox(t, restricted.Options{})
	res := run(t, sb, `numbers = [1, 2, 3, 4, 5]
total = sum(numbers)
average = total / len(numbers)
squared = [n * n for n in numbers]
def helper():
    pass
info = {"ok": True, 1: None, "nan": float("nan")}
s = set([1])
big = 1 << 500
`, sandrun.Limits{})
	wantStatus(t, res, sandrun.StatusOK)
	b, _ := json.Marshal(res.Variables)
	got := string(b)
	for _, want := range []string{`"total":15`, `"average":3.0`, `"squared":[1,4,9,16,25]`, `"helper":"\u003cfunction\u003e"`,
		`"info":{"1":null,"nan":"nan","ok":true}`, `"s":[1]`, `"big":3273390607896141870013189696827599152216642046043064789483291368096133796404674554883270092325904157150886684127560071009217256545885393053328527589376`} {
		if !strings.Contains(got, want) {
			t.Errorf("variables %s\nlack %s", got, want)
		}
	}
}
