package restricted

import (
	"encoding/json"
	"fmt"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/sandrun/sandrun/internal/starlib"
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
// constants pi and e, and abs, min and max (internal/starlib, shared with
// the Starlark session driver). Pass it (or a copy with more entries) as
// Options.Predeclared. Its functions run inside the interpreter rather
// than as proxied host calls (see nativeBuiltin).
func MathEnv() starlark.StringDict { return starlib.MathEnv() }
