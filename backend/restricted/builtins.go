package restricted

import (
	"fmt"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// extraBuiltins are Python built-ins that Starlark lacks and agent code
// uses all the time. They are pure (no I/O) and run inside the
// interpreter; every program gets them, like Starlark's own built-ins.
// The table is read-only.
var extraBuiltins = starlark.StringDict{
	"sum":   starlark.NewBuiltin("sum", pySum),
	"round": starlark.NewBuiltin("round", pyRound),
}

// nativeBuiltin returns the built-in of that name that runs inside the
// interpreter (Starlark's own, extraBuiltins, mathBuiltins), or nil. A
// host value identical to one of them is not proxied.
func nativeBuiltin(name string) *starlark.Builtin {
	for _, t := range []starlark.StringDict{starlark.Universe, extraBuiltins, mathBuiltins} {
		if b, ok := t[name].(*starlark.Builtin); ok {
			return b
		}
	}
	return nil
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
