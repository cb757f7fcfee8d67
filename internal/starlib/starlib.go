// Package starlib is the Starlark library sandrun gives programs beyond
// the language's own built-ins: Python's sum and round, and the seed's
// safe math environment (MathEnv). Both Starlark runners use it: the
// restricted tier's workers and the session driver on the OS tiers
// (internal/driver), which must not import a backend.
package starlib

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// extra and mathFuncs are read-only tables: Extra and MathEnv hand out
// copies that share the *starlark.Builtin values, whose identity Native
// recognizes.
var extra = starlark.StringDict{
	"sum":   starlark.NewBuiltin("sum", pySum),
	"round": starlark.NewBuiltin("round", pyRound),
}

// Extra returns Python built-ins that Starlark lacks and agent code uses
// all the time: sum and round. They are pure (no I/O).
func Extra() starlark.StringDict {
	out := make(starlark.StringDict, len(extra))
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// MathEnv is the seed's safe math environment: sqrt, sin, cos, log,
// ceil, floor and round (Python's, with ndigits), the constants pi and e,
// and abs, min and max.
func MathEnv() starlark.StringDict {
	env := starlark.StringDict{
		"pi":  starlark.Float(math.Pi),
		"e":   starlark.Float(math.E),
		"abs": starlark.Universe["abs"],
		"min": starlark.Universe["min"],
		"max": starlark.Universe["max"],
	}
	for k, v := range mathFuncs {
		env[k] = v
	}
	env["round"] = extra["round"]
	return env
}

// Native returns the built-in of that name that runs inside the
// interpreter (Starlark's own, Extra's, MathEnv's), or nil.
func Native(name string) *starlark.Builtin {
	for _, t := range []starlark.StringDict{starlark.Universe, extra, mathFuncs} {
		if b, ok := t[name].(*starlark.Builtin); ok {
			return b
		}
	}
	return nil
}

// mathFuncs are MathEnv's functions.
var mathFuncs = starlark.StringDict{
	"sqrt": floatFunc("sqrt", func(x float64) (float64, error) {
		if x < 0 {
			return 0, errDomain
		}
		return math.Sqrt(x), nil
	}),
	"sin":   floatFunc("sin", func(x float64) (float64, error) { return math.Sin(x), nil }),
	"cos":   floatFunc("cos", func(x float64) (float64, error) { return math.Cos(x), nil }),
	"log":   starlark.NewBuiltin("log", mathLog),
	"ceil":  intRounder("ceil", math.Ceil),
	"floor": intRounder("floor", math.Floor),
}

var errDomain = errors.New("math domain error")

func floatFunc(name string, fn func(float64) (float64, error)) *starlark.Builtin {
	return starlark.NewBuiltin(name, func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var x starlark.Value
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &x); err != nil {
			return nil, err
		}
		f, ok := starlark.AsFloat(x)
		if !ok {
			return nil, fmt.Errorf("%s: want a number, got %s", b.Name(), x.Type())
		}
		r, err := fn(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		return starlark.Float(r), nil
	})
}

func mathLog(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var x, base starlark.Value = nil, starlark.Float(math.E)
	if err := starlark.UnpackPositionalArgs("log", args, kwargs, 1, &x, &base); err != nil {
		return nil, err
	}
	xf, ok1 := starlark.AsFloat(x)
	bf, ok2 := starlark.AsFloat(base)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("log: want numbers")
	}
	if xf <= 0 || bf <= 0 || bf == 1 {
		return nil, fmt.Errorf("log: math domain error")
	}
	if bf == math.E {
		return starlark.Float(math.Log(xf)), nil
	}
	return starlark.Float(math.Log(xf) / math.Log(bf)), nil
}

// intRounder is Python's math.ceil/floor: an int result.
func intRounder(name string, fn func(float64) float64) *starlark.Builtin {
	return starlark.NewBuiltin(name, func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var x starlark.Value
		if err := starlark.UnpackPositionalArgs(name, args, kwargs, 1, &x); err != nil {
			return nil, err
		}
		return roundToInt(name, x, fn)
	})
}

// roundToInt is x as an int: an int as it is, a float rounded by fn (a
// NaN or an infinity is an error, as in Python).
func roundToInt(name string, x starlark.Value, fn func(float64) float64) (starlark.Value, error) {
	switch v := x.(type) {
	case starlark.Int:
		return v, nil
	case starlark.Float:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%s: cannot convert %s to an integer", name, v)
		}
		return starlark.NumberToInt(starlark.Float(fn(f)))
	}
	return nil, fmt.Errorf("%s: want a number, got %s", name, x.Type())
}

// pyRound is Python's round(x, ndigits=None): half to even, an int
// without ndigits, a float with them (correctly rounded through the
// shortest decimal representation, as CPython does).
func pyRound(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var x, nd starlark.Value = nil, starlark.None
	if err := starlark.UnpackPositionalArgs("round", args, kwargs, 1, &x, &nd); err != nil {
		return nil, err
	}
	if nd == starlark.None {
		return roundToInt("round", x, math.RoundToEven)
	}
	n, err := starlark.AsInt32(nd)
	if err != nil {
		return nil, fmt.Errorf("round: ndigits: %w", err)
	}
	switch v := x.(type) {
	case starlark.Int:
		if n >= 0 {
			return v, nil
		}
		if n < -4000 {
			return starlark.MakeInt(0), nil
		}
		pow := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-n)), nil)
		// Half to even, as Python rounds ints.
		q, r := new(big.Int).DivMod(v.BigInt(), pow, new(big.Int))
		twice := new(big.Int).Lsh(r, 1)
		if c := twice.Cmp(pow); c > 0 || (c == 0 && q.Bit(0) == 1) {
			q.Add(q, big.NewInt(1))
		}
		return starlark.MakeBigInt(q.Mul(q, pow)), nil
	case starlark.Float:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) || n > 323 {
			return v, nil
		}
		if n < -308 {
			return starlark.Float(math.Copysign(0, f)), nil
		}
		if n >= 0 {
			r, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', int(n), 64), 64)
			return starlark.Float(r), nil
		}
		p := math.Pow(10, float64(-n))
		return starlark.Float(math.RoundToEven(f/p) * p), nil
	}
	return nil, fmt.Errorf("round: want a number, got %s", x.Type())
}

// pySum is Python's sum(iterable, start=0). It is one step however long
// the iterable: the iterable already exists, so its cost is bounded by the
// memory it took to build, and the wall-clock kill bounds the rest.
func pySum(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var it starlark.Iterable
	var acc starlark.Value = starlark.MakeInt(0)
	if err := starlark.UnpackArgs("sum", args, kwargs, "iterable", &it, "start?", &acc); err != nil {
		return nil, err
	}
	if _, ok := acc.(starlark.String); ok {
		return nil, fmt.Errorf("sum: can't sum strings (use \"\".join(seq) instead)")
	}
	iter := it.Iterate()
	defer iter.Done()
	var x starlark.Value
	for iter.Next(&x) {
		var err error
		if acc, err = starlark.Binary(syntax.PLUS, acc, x); err != nil {
			return nil, fmt.Errorf("sum: %w", err)
		}
	}
	return acc, nil
}
