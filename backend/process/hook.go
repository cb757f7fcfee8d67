package process

import (
	"encoding/json"
	"strings"
)

// pythonHook is the seed's module-blocking import hook, run before the
// user's code. It wraps builtins.__import__ so that an import made by the
// user's own files (anything under the work directory) of a blocked module
// fails with an ImportError naming the module; the standard library's own
// imports are untouched. The user's code then runs as __main__ from its
// file, so tracebacks name main.py and its lines.
const pythonHook = `
import builtins as _b, sys as _s
_blocked = frozenset(%s)
_orig = _b.__import__
_wd = _s.path[0] if _s.path and _s.path[0] else __import__("os").getcwd()
def _guard(name, globals=None, locals=None, fromlist=(), level=0):
    f = (globals or {}).get("__file__") or ""
    user = level == 0 and (not f or not f.startswith("/") or f.startswith(_wd + "/"))
    if user and name.split(".")[0] in _blocked:
        raise ImportError("import of module %%r is blocked by the sandbox (process tier); use the jail tier for full Python" %% name.split(".")[0], name=name)
    return _orig(name, globals, locals, fromlist, level)
_b.__import__ = _guard
_file = %s
_s.argv = [_file] + _s.argv[1:]
_src = open(_file, encoding="utf-8").read()
_g = {"__name__": "__main__", "__file__": _file, "__builtins__": _b}
exec(compile(_src, _file, "exec"), _g)
`

// pythonWithHook turns [python, flags..., file, args...] into
// [python, flags..., -c, hook, args...].
func pythonWithHook(argv []string, file string, blocked []string) []string {
	bl, _ := json.Marshal(blocked)
	fn, _ := json.Marshal(file)
	code := strings.Replace(strings.Replace(pythonHook, "%s", string(bl), 1), "%s", string(fn), 1)
	code = strings.ReplaceAll(code, "%%", "%")
	out := make([]string, 0, len(argv)+1)
	for i, a := range argv {
		if a == file {
			out = append(out, "-c", code)
			out = append(out, argv[i+1:]...)
			return out
		}
		out = append(out, a)
	}
	return argv
}
