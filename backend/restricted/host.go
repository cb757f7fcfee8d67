package restricted

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// hostDecl describes one host-provided global to the worker, which builds
// it there: data is copied, functions become proxies that call back into
// the parent (see doc.go).
type hostDecl struct {
	Name string `json:"name"`
	// Func is the 1-based id of a host function in the parent's table.
	Func int `json:"func,omitempty"`
	// Universe names a built-in of the interpreter the host passed
	// through (min, abs, MathEnv's sqrt ...): the worker uses its own
	// copy instead of a proxy.
	Universe string `json:"universe,omitempty"`
	// Value is host data, copied.
	Value *wire `json:"value,omitempty"`
	// Module is a struct-like module whose members follow.
	Module  bool       `json:"module,omitempty"`
	Members []hostDecl `json:"members,omitempty"`
}

// hostTable is Options.Predeclared prepared once: the declarations sent
// with every run, and the functions they refer to.
type hostTable struct {
	raw   json.RawMessage // []hostDecl, encoded
	funcs []*starlark.Builtin
}

// buildHost checks and prepares the host globals. It refuses (naming the
// global) anything that can neither be copied nor proxied.
func buildHost(pre starlark.StringDict, budget int) (*hostTable, error) {
	t := &hostTable{}
	var decls []hostDecl
	for _, name := range pre.Keys() {
		d, err := t.decl(name, pre[name], 0, budget)
		if err != nil {
			return nil, fmt.Errorf("restricted: Options.Predeclared[%q]: %w", name, err)
		}
		decls = append(decls, d)
	}
	raw, err := json.Marshal(decls)
	if err != nil {
		return nil, fmt.Errorf("restricted: Options.Predeclared: %w", err)
	}
	t.raw = raw
	return t, nil
}

func (t *hostTable) decl(name string, v starlark.Value, depth, budget int) (hostDecl, error) {
	switch x := v.(type) {
	case *starlark.Builtin:
		if nativeBuiltin(x.Name()) == x {
			// One of the interpreter's own: the worker uses its copy.
			return hostDecl{Name: name, Universe: x.Name()}, nil
		}
		t.funcs = append(t.funcs, x)
		return hostDecl{Name: name, Func: len(t.funcs)}, nil
	case *starlarkstruct.Module:
		if depth > 4 {
			return hostDecl{}, fmt.Errorf("modules nested too deeply")
		}
		d := hostDecl{Module: true}
		for _, m := range x.Members.Keys() {
			md, err := t.decl(m, x.Members[m], depth+1, budget)
			if err != nil {
				return hostDecl{}, fmt.Errorf("member %s: %w", m, err)
			}
			d.Members = append(d.Members, md)
		}
		d.Name = name // the program knows it by the global's name
		return d, nil
	}
	w, err := encodeWire(v, budget)
	if err != nil {
		return hostDecl{}, err
	}
	if w.T == "o" {
		return hostDecl{}, fmt.Errorf("a %s cannot be given to a worker: use data values, *starlark.Builtin functions or *starlarkstruct.Module modules (or Options.InProcess)", v.Type())
	}
	return hostDecl{Name: name, Value: &w}, nil
}

// materialize builds the host globals in the worker. call invokes host
// function id with already-encoded arguments.
func materialize(decls []hostDecl, call func(id int, name string, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error)) (starlark.StringDict, error) {
	out := make(starlark.StringDict, len(decls))
	for _, d := range decls {
		v, err := materializeOne(d, call)
		if err != nil {
			return nil, fmt.Errorf("host global %s: %w", d.Name, err)
		}
		out[d.Name] = v
	}
	return out, nil
}

func materializeOne(d hostDecl, call func(int, string, starlark.Tuple, []starlark.Tuple) (starlark.Value, error)) (starlark.Value, error) {
	switch {
	case d.Func > 0:
		id, name := d.Func, d.Name
		return starlark.NewBuiltin(name, func(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			return call(id, name, args, kwargs)
		}), nil
	case d.Universe != "":
		v := nativeBuiltin(d.Universe)
		if v == nil {
			return nil, fmt.Errorf("no built-in %q", d.Universe)
		}
		return v, nil
	case d.Module:
		members, err := materialize(d.Members, call)
		if err != nil {
			return nil, err
		}
		return &starlarkstruct.Module{Name: d.Name, Members: members}, nil
	case d.Value != nil:
		v, err := decodeWire(*d.Value, 0)
		if err != nil {
			return nil, err
		}
		v.Freeze()
		return v, nil
	}
	return nil, fmt.Errorf("empty declaration")
}

// MathEnv is the seed's safe math environment as host globals: sqrt,
// sin, cos, log, ceil, floor and round (Python's, with ndigits), the
// constants pi and e, and abs, min and max. Pass it (or a copy with more
// entries) as Options.Predeclared. Its functions are this package's own,
// so they run inside the interpreter rather than as proxied host calls
// (see nativeBuiltin).
func MathEnv() starlark.StringDict {
	env := starlark.StringDict{
		"pi":  starlark.Float(math.Pi),
		"e":   starlark.Float(math.E),
		"abs": starlark.Universe["abs"],
		"min": starlark.Universe["min"],
		"max": starlark.Universe["max"],
	}
	for k, v := range mathBuiltins {
		env[k] = v
	}
	env["round"] = extraBuiltins["round"]
	return env
}

// mathBuiltins are MathEnv's functions: a read-only table.
var mathBuiltins = starlark.StringDict{
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
	})
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
		switch v := x.(type) {
		case starlark.Int:
			return v, nil
		case starlark.Float:
			f := float64(v)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("round: cannot convert %s to an integer", v)
			}
			return starlark.NumberToInt(starlark.Float(math.RoundToEven(f)))
		}
		return nil, fmt.Errorf("round: want a number, got %s", x.Type())
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
