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

// isExtraBuiltin reports whether v is one of extraBuiltins (a host that
// passes it through gets the worker's own copy, not a proxy).
func isExtraBuiltin(name string, v starlark.Value) bool {
	b, ok := v.(*starlark.Builtin)
	return ok && extraBuiltins[name] == starlark.Value(b)
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
