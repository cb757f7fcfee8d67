// Package pytb holds python source shared by sandrun's python programs
// that run the user's code in the interpreter they run in: the session
// driver (internal/driver) and restricted python's policy
// (internal/pypolicy). Each puts Source before its own source, so that
// the helpers run in its module.
//
// traceback.py: _print_user_exc(e, runner) prints an exception as python
// does, its whole chain without the frames whose globals are runner's
// (the program's own: a step runner, a signal handler).
package pytb

import _ "embed"

// Source is traceback.py.
//
//go:embed traceback.py
var Source string
