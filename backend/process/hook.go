package process

import (
	"encoding/json"
	"strings"
)

// pythonHook is the seed's module-blocking import hook, run before the
// user's code. It wraps builtins.__import__ so that an absolute import of a
// blocked module fails with an ImportError naming the module when the
// importing code is the user's; the interpreter's own modules (files under
// its prefixes, frozen modules) import what they need. Whose code imports
// is read from the calling frame's code object (co_filename), not from the
// globals the call passes: `__import__('os', {'__file__': '/x'})` handed
// the old hook a globals dict of the caller's choosing. The user's code
// then runs as __main__ from its file, so tracebacks name main.py and its
// lines.
//
// It stays a speed bump for careless code, not a boundary: a program can
// compile code under a file name of the standard library, reach modules
// already loaded through sys.modules, or dig the original __import__ out
// of the hook's closure. The tier's boundary is the unprivileged uid and
// the cgroup, and isolation is the jail's job.
const pythonHook = `
import builtins as _b, sys as _s
def _install(blocked, orig, getframe, prefixes, wd):
    def _guard(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and name.partition(".")[0] in blocked:
            f = getframe(1).f_code.co_filename
            own = f.startswith("<frozen ") or (f.startswith("/") and not f.startswith(wd) and f.startswith(prefixes))
            if not own:
                raise ImportError("import of module %%r is blocked by the sandbox (process tier); use the jail tier for full Python" %% name.partition(".")[0], name=name)
        return orig(name, globals, locals, fromlist, level)
    return _guard
_wd = (_s.path[0] if _s.path and _s.path[0] else __import__("os").getcwd()).rstrip("/") + "/"
_p = tuple(sorted({p.rstrip("/") + "/" for p in (_s.prefix, _s.base_prefix, _s.exec_prefix, _s.base_exec_prefix) if p}))
_b.__import__ = _install(frozenset(%s), _b.__import__, _s._getframe, _p, _wd)
del _install, _wd, _p
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
