package restricted

import (
	"go.starlark.net/starlark"

	"github.com/sandrun/sandrun/internal/starlib"
)

// extraBuiltins are Python built-ins that Starlark lacks and agent code
// uses all the time (sum, round: internal/starlib). They are pure (no
// I/O) and run inside the interpreter; every program gets them, like
// Starlark's own built-ins. The table is read-only.
var extraBuiltins = starlib.Extra()

// nativeBuiltin returns the built-in of that name that runs inside the
// interpreter (Starlark's own, starlib's), or nil. A host value identical
// to one of them is not proxied.
func nativeBuiltin(name string) *starlark.Builtin { return starlib.Native(name) }
