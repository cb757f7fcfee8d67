# sandrun restricted python: the language policy (internal/pypolicy,
# docs/architecture/restricted.md). A RestrictedPython-style layer over
# real CPython: the code is checked and rewritten from its ast before it
# is compiled, and runs with guarded built-ins and filtered module views.
#
# This module is imported by the jail's guest zygote before it forks (it
# never runs user code there); main() runs in a fork, inside the jail's
# guest child, which is the boundary under this layer: every rule here is
# also contained by the OS sandbox when this layer fails.
#
# Rules (RestrictedPython's transformer.py and Guards.py are the model):
#   - names, attributes, arguments, imports, except targets, function and
#     class names starting with "_" are refused at compile time, with the
#     line (the one exception: reading the name __name__);
#   - frame, code, generator, coroutine and traceback introspection
#     attributes (INSPECT_ATTRIBUTES) and mro are refused at compile time;
#   - every attribute read goes through _getattr_ (the same checks for a
#     computed name, modules outside the allowlist refused, str.format and
#     format_map replaced by a formatter whose fields go through it too);
#     attribute writes go through _write_ (only the program's own classes
#     and their instances);
#   - imports come from ALLOWED_MODULES only, as views that hold the
#     module's public names minus submodules and a few entries that would
#     reach objects by name or evaluate strings (see _REMOVED, _REPLACED);
#   - built-ins are a safe set (no open, eval, exec, compile, globals,
#     vars, input, breakpoint; type() takes one argument; getattr, setattr,
#     delattr and hasattr are guarded);
#   - async code and try/except* are refused (no event loop is available;
#     except* is CPython gh-128049 in 3.11-3.13.1);
#   - a step budget counts loop iterations, comprehension items and
#     function calls; when it is spent the run ends at once, uncatchable.
#
# Frames on the channel (fd 3 in the guest child): a 4-byte big-endian
# length of what follows, a kind byte, a JSON payload (the restricted
# tier's worker protocol, backend/restricted/proto.go):
#   C call {func, args, kwargs}  ->  V return {value | error}
#   D done {status, error, exit, variables}
import ast as _ast
import base64 as _b64
import builtins as _builtins
import io as _io
import itertools as _itertools
import json as _json
import linecache as _linecache
import os as _os
import signal as _signal
import string as _string
import struct as _struct
import sys as _sys
import time as _time
import traceback as _traceback
import types as _types

ALLOWED_MODULES = (
    "bisect", "cmath", "collections", "dataclasses", "datetime", "decimal", "enum", "fractions",
    "functools", "heapq", "itertools", "json", "math", "operator", "random", "re", "statistics",
    "string", "textwrap", "typing",
)
# Submodules a view may hold (as a view of their own).
ALLOWED_SUBMODULES = ("collections.abc",)

# Attributes of frames, code objects, generators, coroutines, async
# generators and tracebacks (the inspect module's table), and mro: the
# ways from an object to the interpreter's internals that do not start
# with an underscore.
INSPECT_ATTRIBUTES = frozenset((
    "tb_frame", "tb_next", "tb_lasti", "tb_lineno",
    "f_back", "f_builtins", "f_code", "f_globals", "f_locals", "f_trace", "f_lasti", "f_lineno",
    "f_trace_lines", "f_trace_opcodes",
    "co_code", "co_consts", "co_names", "co_varnames", "co_freevars", "co_cellvars", "co_filename",
    "co_name", "co_qualname", "co_firstlineno", "co_lnotab", "co_linetable", "co_exceptiontable",
    "co_flags", "co_argcount", "co_posonlyargcount", "co_kwonlyargcount", "co_nlocals",
    "co_stacksize", "co_positions", "co_lines",
    "gi_frame", "gi_code", "gi_running", "gi_yieldfrom", "gi_suspended",
    "cr_frame", "cr_code", "cr_running", "cr_await", "cr_origin", "cr_suspended",
    "ag_frame", "ag_code", "ag_running", "ag_await", "ag_suspended",
    "mro",
))

# Special methods a class body may define: the everyday protocol (init,
# repr, comparisons, containers, numbers, context managers). Hooks into
# class creation, attribute lookup, pickling and copying are not among
# them.
ALLOWED_DUNDER_DEFS = frozenset((
    "__init__", "__post_init__", "__repr__", "__str__", "__format__", "__bool__", "__hash__",
    "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__",
    "__len__", "__iter__", "__next__", "__reversed__", "__contains__", "__missing__",
    "__getitem__", "__setitem__", "__delitem__", "__call__", "__enter__", "__exit__",
    "__neg__", "__pos__", "__abs__", "__invert__", "__int__", "__float__", "__complex__",
    "__index__", "__round__", "__trunc__", "__floor__", "__ceil__",
) + tuple("__%s%s__" % (p, op) for op in (
    "add", "sub", "mul", "matmul", "truediv", "floordiv", "mod", "divmod", "pow",
    "lshift", "rshift", "and", "xor", "or") for p in ("", "r", "i")))

class PolicyError(SyntaxError):
    """The code was refused at compile time; args[0] lists the reasons."""


# --- compile time ---------------------------------------------------------

class _Checker(_ast.NodeTransformer):
    def __init__(self, steps):
        self.errors = []
        self.steps = steps
        self.in_class = False

    def error(self, node, msg):
        self.errors.append("Line %s: %s" % (getattr(node, "lineno", "?"), msg))

    def check_name(self, node, name, what="variable", dunder_def=False):
        if name is None:
            return
        if name.startswith("_") and name != "_":
            if dunder_def and name in ALLOWED_DUNDER_DEFS:
                return
            self.error(node, '"%s" is an invalid %s name because it starts with "_"' % (name, what))
        elif name in INSPECT_ATTRIBUTES and what == "attribute":
            self.error(node, '"%s" is a restricted name, that is forbidden to access in restricted python' % name)

    # names
    def visit_Name(self, node):
        if not (node.id == "__name__" and isinstance(node.ctx, _ast.Load)):
            self.check_name(node, node.id)
        return node

    def visit_arg(self, node):
        self.check_name(node, node.arg, "argument")
        return self.generic_visit(node)

    def visit_Global(self, node):
        for n in node.names:
            self.check_name(node, n)
        return node

    visit_Nonlocal = visit_Global

    def visit_ExceptHandler(self, node):
        self.check_name(node, node.name)
        return self.generic_visit(node)

    def visit_alias(self, node):
        if node.name == "*":
            self.error(node, '"*" imports are not allowed')
        for part in node.name.split("."):
            self.check_name(node, part, "module")
        self.check_name(node, node.asname)
        return node

    def visit_ImportFrom(self, node):
        if node.module:
            for part in node.module.split("."):
                self.check_name(node, part, "module")
        return self.generic_visit(node)

    # attributes
    def visit_Attribute(self, node):
        self.check_name(node, node.attr, "attribute")
        node = self.generic_visit(node)
        if isinstance(node.ctx, _ast.Load):
            call = _ast.Call(func=_ast.Name("_getattr_", _ast.Load()), args=[node.value, _ast.Constant(node.attr)], keywords=[])
            return _ast.copy_location(call, node)
        node.value = _ast.copy_location(_ast.Call(func=_ast.Name("_write_", _ast.Load()), args=[node.value], keywords=[]), node.value)
        return node

    def visit_MatchClass(self, node):
        for a in node.kwd_attrs:
            self.check_name(node, a, "attribute")
        return self.generic_visit(node)

    def visit_MatchAs(self, node):
        self.check_name(node, node.name)
        return self.generic_visit(node)

    def visit_MatchStar(self, node):
        self.check_name(node, node.name)
        return node

    def visit_MatchMapping(self, node):
        self.check_name(node, node.rest)
        return self.generic_visit(node)

    # definitions
    def _function(self, node):
        self.check_name(node, node.name, "function", dunder_def=self.in_class)
        outer, self.in_class = self.in_class, False
        node = self.generic_visit(node)
        self.in_class = outer
        if self.steps:
            body = node.body
            at = 1 if body and isinstance(body[0], _ast.Expr) and isinstance(body[0].value, _ast.Constant) and isinstance(body[0].value.value, str) else 0
            body.insert(at, self._step(node))
        return node

    visit_FunctionDef = _function

    def visit_ClassDef(self, node):
        self.check_name(node, node.name, "class")
        outer, self.in_class = self.in_class, True
        node = self.generic_visit(node)
        self.in_class = outer
        return node

    def visit_AsyncFunctionDef(self, node):
        self.error(node, "async functions are not supported in restricted python (asyncio is not available)")
        return node

    def visit_Await(self, node):
        self.error(node, "await is not supported in restricted python")
        return node

    def visit_AsyncFor(self, node):
        self.error(node, "async for is not supported in restricted python")
        return node

    def visit_AsyncWith(self, node):
        self.error(node, "async with is not supported in restricted python")
        return node

    def visit_TryStar(self, node):
        self.error(node, "try/except* is not supported in restricted python")
        return node

    # type parameters (3.12+): their names are plain strings
    def visit_TypeVar(self, node):
        self.check_name(node, node.name)
        return self.generic_visit(node)

    visit_ParamSpec = visit_TypeVar
    visit_TypeVarTuple = visit_TypeVar

    # the step budget
    def _step(self, node):
        s = _ast.Expr(_ast.Call(func=_ast.Name("_step_", _ast.Load()), args=[], keywords=[]))
        return _ast.copy_location(s, node)

    def _iter(self, it):
        return _ast.copy_location(_ast.Call(func=_ast.Name("_getiter_", _ast.Load()), args=[it], keywords=[]), it)

    def visit_For(self, node):
        node = self.generic_visit(node)
        if self.steps:
            node.iter = self._iter(node.iter)
        return node

    def visit_While(self, node):
        node = self.generic_visit(node)
        if self.steps:
            node.body.insert(0, self._step(node))
        return node

    def visit_comprehension(self, node):
        node = self.generic_visit(node)
        if self.steps:
            node.iter = self._iter(node.iter)
        return node


def compile_restricted(source, filename="<restricted>", steps=True, interactive=False):
    """Check and rewrite source; return its code object. A refusal raises
    PolicyError with every reason, a syntax error SyntaxError.
    interactive compiles a REPL line (python's "single" mode: expression
    statements are echoed)."""
    tree = _ast.parse(source, filename, "exec")
    c = _Checker(steps)
    tree = c.visit(tree)
    if c.errors:
        raise PolicyError("\n".join(c.errors))
    _ast.fix_missing_locations(tree)
    if interactive:
        return compile(_ast.Interactive(body=tree.body), filename, "single", dont_inherit=True)
    return compile(tree, filename, "exec", dont_inherit=True)


# --- run time: guards -----------------------------------------------------
#
# The guards' state is this module's, built once at import (in the
# zygote): every guest child is a fork that runs one program, so nothing
# of one run reaches another.

_real_getattr, _real_setattr, _real_delattr, _real_type = getattr, setattr, delattr, type
_ModuleType, _BuiltinMethod, _MethodDescriptor = _types.ModuleType, _types.BuiltinMethodType, _real_type(str.format)
_str_format, _str_format_map = str.format, str.format_map
_MISSING = object()

_views = {}          # module name -> view (ModuleType) the program may import
_view_ids = set()    # ids of the views and of host modules
_user_classes = set()  # ids of the classes the program made (kept alive in _keep)
_keep = []


def _check_attr(name):
    if _real_type(name) is not str:
        raise TypeError("attribute name must be a string, not '%s'" % _real_type(name).__name__)
    if name.startswith("_") and name != "_":
        raise AttributeError('"%s" is an invalid attribute name because it starts with "_"' % name)
    if name in INSPECT_ATTRIBUTES:
        raise AttributeError('"%s" is a restricted name, that is forbidden to access in restricted python' % name)


def _no_module(m):
    raise AttributeError("module '%s' is not available in restricted python" % _real_getattr(m, "__name__", "?"))


def _vet(v):
    """The value of an attribute read, as the program may have it: a
    module outside the views is refused, str.format and format_map become
    the guarded formatter."""
    t = _real_type(v)
    if t is _ModuleType:
        if id(v) not in _view_ids:
            _no_module(v)
    elif t is _BuiltinMethod:
        if issubclass(_real_type(v.__self__), str):
            name, s = v.__name__, v.__self__
            if name == "format":
                return lambda *a, **k: _FORMATTER.vformat(s, a, k)
            if name == "format_map":
                return lambda mapping: _FORMATTER.vformat(s, (), mapping)
    elif t is _MethodDescriptor:
        if v is _str_format:
            return lambda s, *a, **k: _FORMATTER.vformat(_as_str(s), a, k)
        if v is _str_format_map:
            return lambda s, mapping: _FORMATTER.vformat(_as_str(s), (), mapping)
    return v


def _attr(obj, name):
    """obj.name in rewritten code (the name was checked at compile time)."""
    if _real_type(obj) is _ModuleType and id(obj) not in _view_ids:
        _no_module(obj)
    v = _real_getattr(obj, name)
    t = _real_type(v)
    if t is _ModuleType or t is _BuiltinMethod or t is _MethodDescriptor:
        return _vet(v)
    return v


def guarded_getattr(obj, name, default=_MISSING):
    """getattr() for restricted code: the compile-time rules on a computed
    name, then _attr's."""
    _check_attr(name)
    try:
        return _attr(obj, name)
    except AttributeError:
        if default is _MISSING:
            raise
        return default


def guarded_hasattr(obj, name):
    try:
        guarded_getattr(obj, name)
    except AttributeError:
        return False
    return True


def _write(obj):
    """The target of an attribute write: a class the program defined, or
    an instance of one."""
    t = _real_type(obj)
    if id(t) in _user_classes or (issubclass(t, type) and id(obj) in _user_classes):
        return obj
    raise TypeError("cannot set or delete attributes of a '%s' object in restricted python (only of classes the program defines and their instances)" % t.__name__)


def guarded_setattr(obj, name, value):
    _check_attr(name)
    _real_setattr(_write(obj), name, value)


def guarded_delattr(obj, name):
    _check_attr(name)
    _real_delattr(_write(obj), name)


def _build_class(func, name, *bases, **kw):
    cls = _builtins.__build_class__(func, name, *bases, **kw)
    _user_classes.add(id(cls))
    _keep.append(cls)
    return cls


def _import(name, globals=None, locals=None, fromlist=(), level=0):
    if _real_type(fromlist) is list and _real_type(name) is str:
        # PyImport_Import: C code inside a library (datetime's strftime
        # imports time) imports through the running frame's builtins,
        # with a list as fromlist, and then takes the real module from
        # sys.modules for itself. An import statement passes None or a
        # tuple, and the program cannot call this function by name.
        return _builtins.__import__(name, globals, locals, fromlist, level)
    if _real_type(name) is not str or level != 0:
        raise ImportError("relative imports are not allowed in restricted python")
    view = _views.get(name)
    if view is None:
        raise ImportError("import of '%s' is not allowed in restricted python (allowed: %s)" % (name, ", ".join(ALLOWED_MODULES)), name=name)
    if fromlist:
        return view
    return _views[name.partition(".")[0]]


def _as_str(s):
    if not issubclass(_real_type(s), str):
        raise TypeError("descriptor 'format' requires a 'str' object but received a '%s'" % _real_type(s).__name__)
    return s


import _string as _cstring  # noqa: E402  (string.Formatter's C helpers)

_field_name_split = _cstring.formatter_field_name_split


class _GuardedFormatter(_string.Formatter):
    """str.format, str.format_map and string.Formatter for restricted code:
    the attribute parts of a field ({0.attr}) go through the guard."""

    def get_field(self, field_name, args, kwargs):
        first, rest = _field_name_split(field_name)
        obj = self.get_value(first, args, kwargs)
        for is_attr, i in rest:
            obj = guarded_getattr(obj, i) if is_attr else obj[i]
        return obj, first


_FORMATTER = _GuardedFormatter()


def _attrgetter(*names):
    for n in names:
        if _real_type(n) is not str:
            raise TypeError("attribute name must be a string")
        for part in n.split("."):
            _check_attr(part)

    def get(obj):
        out = []
        for n in names:
            v = obj
            for part in n.split("."):
                v = _attr(v, part)
            out.append(v)
        return out[0] if len(out) == 1 else tuple(out)
    return get


def _methodcaller(name, *args, **kwargs):
    _check_attr(name)
    return lambda obj: _attr(obj, name)(*args, **kwargs)


# Entries left out of module views: they evaluate strings as code
# (typing's forward references; functools.singledispatch registers by
# annotation through typing.get_type_hints). Metaclasses are left out of
# every view (they build classes from a dict, as type() with three
# arguments does).
_REMOVED = {
    "typing": ("get_type_hints", "ForwardRef", "evaluate_forward_ref"),
    "functools": ("singledispatch", "singledispatchmethod"),
}
_REPLACED = {
    ("operator", "attrgetter"): _attrgetter,
    ("operator", "methodcaller"): _methodcaller,
    ("string", "Formatter"): _GuardedFormatter,
}


def _is_metaclass(v):
    return isinstance(v, type) and issubclass(v, type)


def _make_views():
    import importlib
    for name in sorted(ALLOWED_MODULES + ALLOWED_SUBMODULES, key=len, reverse=True):
        real = importlib.import_module(name)
        v = _ModuleType(name, real.__doc__)
        removed = _REMOVED.get(name, ())
        for k, val in list(vars(real).items()):
            if k.startswith("_") or k in removed or _is_metaclass(val):
                continue
            if _real_type(val) is _ModuleType:
                sub = _views.get(name + "." + k)
                if sub is not None:
                    _real_setattr(v, k, sub)
                continue
            _real_setattr(v, k, _REPLACED.get((name, k), val))
        _views[name] = v
        _view_ids.add(id(v))
    # Imported lazily by allowlisted modules: loaded here, once, so that a
    # guest child never reads them from disk.
    for name in ("_strptime", "unicodedata", "encodings.latin_1", "encodings.ascii", "encodings.utf_16",
                 "encodings.utf_32", "encodings.utf_8_sig", "encodings.unicode_escape", "encodings.raw_unicode_escape"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass


_make_views()


# --- run time: built-ins --------------------------------------------------

_SAFE_BUILTINS = (
    "abs", "all", "any", "ascii", "bin", "bool", "bytearray", "bytes", "callable", "chr",
    "classmethod", "complex", "dict", "divmod", "enumerate", "filter", "float", "format",
    "frozenset", "hash", "hex", "id", "int", "isinstance", "issubclass", "iter", "len", "list",
    "map", "max", "memoryview", "min", "next", "object", "oct", "ord", "pow", "print", "property",
    "range", "repr", "reversed", "round", "set", "slice", "sorted", "staticmethod", "str", "sum",
    "super", "tuple", "zip", "None", "True", "False", "NotImplemented", "Ellipsis",
)


def _safe_type(*args):
    """type(obj): the object's type. Three arguments (building a class
    from a dict) are refused, and so is handing out a metaclass."""
    if len(args) != 1:
        raise TypeError("type() takes one argument in restricted python (building a class from a dict is not allowed)")
    t = _real_type(args[0])
    return _safe_type if issubclass(t, type) else t


def _exit(code=None):
    raise SystemExit(code)


def _no_step():
    pass


def _identity(it):
    return it


def _make_builtins():
    b = {}
    for name in _SAFE_BUILTINS:
        b[name] = _real_getattr(_builtins, name)
    for name, val in vars(_builtins).items():
        if _real_type(val) is type and issubclass(val, BaseException):
            b[name] = val
    b.update({
        "getattr": guarded_getattr, "setattr": guarded_setattr, "delattr": guarded_delattr,
        "hasattr": guarded_hasattr, "type": _safe_type, "exit": _exit, "quit": _exit,
        "__import__": _import, "__build_class__": _build_class,
        "_getattr_": _attr, "_write_": _write, "_step_": _no_step, "_getiter_": _identity,
    })
    return b


SAFE_BUILTINS = _make_builtins()


def builtins_for(steps):
    """The built-ins of one run; steps is the step budget's iterator (or
    None for no budget)."""
    b = dict(SAFE_BUILTINS)
    if steps is not None:
        b["_step_"] = steps.__next__
        b["_getiter_"] = lambda it: _itertools.compress(it, steps)
    return b


# --- the channel to the supervisor ----------------------------------------

class _Channel:
    def __init__(self, fd, max_arg):
        self.fd, self.max_arg = fd, max_arg
        self.broken = False

    def send(self, kind, obj):
        data = _json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()
        buf = _struct.pack(">I", len(data) + 1) + kind + data
        while buf:
            buf = buf[_os.write(self.fd, buf):]

    def _read(self, n):
        out = b""
        while len(out) < n:
            c = _os.read(self.fd, n - len(out))
            if not c:
                raise EOFError("the host closed the channel")
            out += c
        return out

    def recv(self):
        (n,) = _struct.unpack(">I", self._read(4))
        if n < 1 or n > self.max_arg + (64 << 10):
            raise EOFError("frame of %d bytes from the host" % n)
        data = self._read(n)
        return data[:1], _json.loads(data[1:])

    def call(self, fid, name, args, kwargs):
        if self.broken:
            raise RuntimeError("%s: the host connection is gone" % name)
        enc = _Encoder(self.max_arg)
        msg = {"func": fid, "args": [enc.value(a, 0) for a in args]}
        if kwargs:
            msg["kwargs"] = [{"name": k, "value": enc.value(v, 0)} for k, v in kwargs.items()]
        try:
            self.send(b"C", msg)
            kind, ret = self.recv()
        except (OSError, EOFError, ValueError) as e:
            self.broken = True
            raise RuntimeError("%s: the host connection failed: %s" % (name, e)) from None
        if kind != b"V":
            self.broken = True
            raise RuntimeError("%s: unexpected answer from the host" % name)
        if ret.get("error"):
            raise RuntimeError(ret["error"])
        w = ret.get("value")
        return None if w is None else _decode(w, 0)


# --- values on the wire (backend/restricted/values.go) ---------------------

class _TooLarge(ValueError):
    pass


class _Encoder:
    def __init__(self, budget):
        self.left, self.budget = budget, budget

    def spend(self, n):
        self.left -= n + 8
        if self.left < 0:
            raise _TooLarge("value too large to pass between the program and the host (limit %d bytes encoded)" % self.budget)

    def value(self, v, depth):
        if depth > 64:
            raise ValueError("value nested deeper than 64 levels (or containing itself)")
        t = _real_type(v)
        if v is None:
            self.spend(0)
            return {"t": "n"}
        if t is bool:
            self.spend(1)
            return {"t": "b", "b": v}
        if issubclass(t, int):
            self.spend(v.bit_length() // 4 + 1)
            return {"t": "i", "s": format(int(v), "x")}
        if issubclass(t, float):
            self.spend(24)
            return {"t": "f", "s": repr(float(v))}
        if issubclass(t, str):
            self.spend(len(v) * 4 // 3)
            try:
                return {"t": "s", "s": str(v).encode("utf-8").decode("utf-8")}
            except UnicodeEncodeError:
                return {"t": "x", "s": _b64.b64encode(str(v).encode("utf-8", "surrogateescape")).decode()}
        if issubclass(t, (bytes, bytearray)):
            self.spend(len(v) * 4 // 3)
            return {"t": "y", "s": _b64.b64encode(bytes(v)).decode()}
        if issubclass(t, (list, tuple, set, frozenset)):
            items = list(v)
            self.spend(len(items))
            kind = "l" if issubclass(t, list) else "t" if issubclass(t, tuple) else "S"
            return {"t": kind, "l": [self.value(x, depth + 1) for x in items]}
        if issubclass(t, dict):
            self.spend(2 * len(v))
            out = []
            for k, x in list(v.items()):
                out.append(self.value(k, depth + 1))
                out.append(self.value(x, depth + 1))
            return {"t": "d", "l": out}
        self.spend(len(t.__name__))
        return {"t": "o", "s": t.__name__}


class Opaque:
    """A host value that cannot cross into python (a function, a module)."""

    def __init__(self, type_name):
        self.type_name = type_name

    def __repr__(self):
        return "<%s>" % self.type_name


def _decode(w, depth):
    if depth > 64:
        raise ValueError("value nested deeper than 64 levels")
    t = w.get("t")
    s = w.get("s", "")
    if t == "n":
        return None
    if t == "b":
        return bool(w.get("b"))
    if t == "i":
        return int(s, 16)
    if t == "f":
        return float(s)
    if t == "s":
        return s
    if t == "x":
        return _b64.b64decode(s).decode("utf-8", "surrogateescape")
    if t == "y":
        return _b64.b64decode(s)
    if t in ("l", "t", "S"):
        items = [_decode(x, depth + 1) for x in w.get("l") or ()]
        return items if t == "l" else tuple(items) if t == "t" else set(items)
    if t == "d":
        items = w.get("l") or []
        if len(items) % 2:
            raise ValueError("malformed dict on the wire")
        return {_decode(items[i], depth + 1): _decode(items[i + 1], depth + 1) for i in range(0, len(items), 2)}
    if t == "o":
        return Opaque(s)
    raise ValueError("unknown value kind %r on the wire" % t)


# Host built-ins of the Starlark tier that have a python counterpart (a
# host passing restricted.MathEnv() gets python's own functions).
def _universe():
    import math
    u = {n: _real_getattr(_builtins, n) for n in ("abs", "min", "max", "sum", "round", "len", "sorted", "reversed",
                                                 "enumerate", "zip", "range", "list", "dict", "tuple", "set", "str",
                                                 "int", "float", "bool", "repr", "any", "all", "hash", "print")}
    for n in ("sqrt", "sin", "cos", "tan", "log", "ceil", "floor", "exp", "pow", "fabs", "atan", "atan2",
              "asin", "acos", "hypot", "degrees", "radians"):
        u[n] = _real_getattr(math, n)
    return u


def _host_globals(decls, chan):
    out = {}
    universe = _universe()
    for d in decls:
        out[d["name"]] = _host_value(d, chan, universe)
    return out


def _host_value(d, chan, universe):
    name = d["name"]
    if d.get("func"):
        fid = d["func"]

        def host_function(*args, **kwargs):
            return chan.call(fid, name, args, kwargs)
        host_function.__name__ = host_function.__qualname__ = name
        return host_function
    if d.get("universe"):
        u = universe.get(d["universe"])
        if u is None:
            raise ValueError("host global %s: the built-in %s has no python counterpart" % (name, d["universe"]))
        return u
    if d.get("module"):
        m = _ModuleType(name)
        for member in d.get("members") or ():
            _real_setattr(m, member["name"], _host_value(member, chan, universe))
        _view_ids.add(id(m))
        _keep.append(m)
        return m
    if "value" in d:
        return _decode(d["value"], 0)
    raise ValueError("host global %s: empty declaration" % name)


# --- variables (backend/restricted/values.go encodeVariables) --------------

def _variable(v, depth, left):
    t = _real_type(v)
    if depth > 64:
        return "<%s: nested too deeply>" % t.__name__, 32
    if v is None:
        return None, 4
    if t is bool:
        return v, 5
    if t is int:
        bl = v.bit_length()
        if bl > 4096:
            return "<int with %d bits>" % bl, 24
        return v, bl // 3 + 2
    if t is float:
        if v != v:
            return "nan", 5
        if v in (float("inf"), float("-inf")):
            return ("+inf" if v > 0 else "-inf"), 6
        return v, 24
    if t is str:
        return v, len(v) + 2
    if t is bytes:
        return _b64.b64encode(v).decode(), len(v) * 4 // 3 + 2
    if t in (list, tuple, set, frozenset):
        out, size = [], 2
        for x in v:
            val, n = _variable(x, depth + 1, left - size)
            out.append(val)
            size += n + 1
            if size > left:
                return None, size
        return out, size
    if t is dict:
        out, size = {}, 2
        for k, x in v.items():
            kt = _real_type(k)
            if kt is str:
                key = k
            elif kt in (int, float, bool) or k is None:
                key = _json.dumps(k)
            else:
                return "<dict with %s keys>" % kt.__name__, 32
            val, n = _variable(x, depth + 1, left - size)
            out[key] = val
            size += n + len(key) + 4
            if size > left:
                return None, size
        return out, size
    return "<%s>" % t.__name__, len(t.__name__) + 4


def variables(g, skip, budget):
    out, left = {}, budget
    for name in sorted(g):
        if name.startswith("_") or name in ("__builtins__", "__name__"):
            continue
        v = g[name]
        if (name in skip and skip[name] is v) or _real_type(v) is _ModuleType:
            continue
        val, size = _variable(v, 0, left)
        if size > left:
            val, size = "<%s: not shown, the variables report is capped at %d bytes>" % (_real_type(v).__name__, budget), 64
        out[name] = val
        left -= size + len(name)
    return out


# --- the warm-up (in a guest child forked ahead of its run) -----------------
#
# A guest child is a fork of the zygote: it shares the zygote's pages until
# it writes them, and the first compile and run under the policy writes
# hundreds (reference counts, the allocator's arenas, the compiler's
# state): print(1) compiled in 0.4 ms in a fresh fork against 0.02 ms the
# second time. prepare() (guest.Spec.Prepare) runs that path once in each
# child before its run, fully confined and with no run's data: compile and
# run a small program of the usual constructs, encode a report. It keeps
# nothing: no class is made (a class would be recorded in _user_classes),
# nothing is printed or sent, the module state it reads is left as it was.

_WARM_COMPILE = """
import math
class C:
    def __init__(self, v):
        self.v = v
"""

_WARM_RUN = """
def f(a, b=2):
    return [a * i for i in range(b)] + [math.sqrt(a)]
total = sum(f(3))
s = f"{total:.2f} {'x'.upper()}"
d = {"k": [1, 2.5, "s", None, True], "t": (1,)}
for k, v in d.items():
    while False:
        pass
try:
    n = 1 // 1
except ZeroDivisionError as e:
    n = 0
"""


def prepare():
    compile_restricted(_WARM_COMPILE, "<warm-up>", steps=True)
    obj = compile_restricted(_WARM_RUN, "<warm-up>", steps=True)
    steps = _itertools.chain(_itertools.repeat(True, 10000), ())
    g = {"__builtins__": builtins_for(steps), "__name__": "__main__", "math": _views["math"]}
    g.update(_host_globals((), None))
    skip = dict(g)
    exec(obj, g)
    msg = {"status": "ok", "error": "", "exit": 0, "variables": variables(g, skip, 1 << 16)}
    _json.dumps(msg, separators=(",", ":"), allow_nan=False).encode()


# --- the run (in the guest child) ------------------------------------------

class _StepsSpent:
    """The end of the step budget's iterator: reaching it ends the run at
    once (os._exit), so no except clause can catch it."""

    def __init__(self, done, budget):
        self.done, self.budget = done, budget

    def __iter__(self):
        self.done("cpu_limit", "the program used its step budget of %d steps (loop iterations, comprehension items and calls)" % self.budget, 1)


def _print_exc(e):
    # Without the policy's frames (internal/pytb, put before this source).
    _print_user_exc(e, globals())


def _exit_status(code):
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        print(code, file=_sys.stderr)
    except Exception:
        pass
    return 1


def _flush():
    for f in (_sys.stdout, _sys.stderr):
        try:
            f.flush()
        except Exception:
            pass


# How long a finished run's process waits, its report sent and its
# streams closed, before it exits by itself (main's done).
_END_PAUSE = 0.002


def main(cfg, chan_fd):
    """Run one program under the policy; never returns."""
    chan = _Channel(chan_fd, int(cfg.get("max_host_arg_bytes") or (1 << 20)))
    if cfg.get("mode") == "session":
        _session(cfg, chan)
    ended = []

    def done(status, error, code, g=None, skip=None):
        if ended:
            _os._exit(code)
        ended.append(1)
        _flush()
        msg = {"status": status, "error": error[:2048], "exit": code}
        if g is not None and cfg.get("max_variable_bytes"):
            try:
                msg["variables"] = variables(g, skip or {}, int(cfg["max_variable_bytes"]))
            except Exception as e:  # a value whose repr or iteration fails
                msg["variables"] = {"_error": "variables could not be encoded: %s" % type(e).__name__}
        try:
            chan.send(b"D", msg)
        except ValueError:  # variables JSON cannot hold
            msg["variables"] = {"_error": "variables could not be encoded"}
            try:
                chan.send(b"D", msg)
            except (OSError, ValueError):
                pass
        except OSError:
            pass
        # The report is sent: with the streams and the channel closed, the
        # supervisor ends the run (guest.Run.Over) without waiting for this
        # process's teardown (unmapping a fork of the zygote, about a
        # millisecond of CPU). That teardown starts a little later: begun
        # at once, it held the CPU the supervisor was woken on, which then
        # saw the end only after it (1 to 5 ms later in a third of the
        # runs; with the pause, in almost none). The supervisor kills this
        # process when it sees the end; the pause only bounds the wait.
        for fd in (1, 2, chan.fd):
            try:
                _os.close(fd)
            except OSError:
                pass
        _time.sleep(_END_PAUSE)
        _os._exit(code)

    code = cfg["code"]
    filename = cfg.get("filename") or "main.py"
    _linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    policy = cfg.get("policy", True)
    max_steps = int(cfg.get("max_steps") or 0)
    try:
        if policy:
            obj = compile_restricted(code, filename, steps=max_steps > 0)
        else:
            obj = compile(code, filename, "exec", dont_inherit=True)
    except PolicyError as e:
        print("restricted python refused the code:", file=_sys.stderr)
        for line in str(e.args[0]).splitlines():
            print("  " + line, file=_sys.stderr)
        done("compile_error", "the code was refused by the restricted python policy: " + str(e.args[0]).replace("\n", "; "), 1)
    except (SyntaxError, ValueError) as e:
        _traceback.print_exception(_real_type(e), e, None)
        done("compile_error", "%s: %s" % (_real_type(e).__name__, e), 1)
    if policy:
        steps = None
        if max_steps > 0:
            steps = _itertools.chain(_itertools.repeat(True, max_steps), _StepsSpent(done, max_steps))
        g = {"__builtins__": builtins_for(steps), "__name__": "__main__"}
        for m in cfg.get("modules") or ():
            if m in _views:
                g[m] = _views[m]
    else:
        g = {"__builtins__": _builtins, "__name__": "__main__"}
    try:
        g.update(_host_globals(cfg.get("host") or (), chan))
    except (ValueError, KeyError, TypeError) as e:
        print("restricted python: %s" % e, file=_sys.stderr)
        done("internal_error", "host globals: %s" % e, 70)
    skip = dict(g)
    try:
        exec(obj, g)
    except SystemExit as e:
        c = _exit_status(e.code)
        done("ok" if c == 0 else "exit_error", "" if c == 0 else "the program exited with code %d" % c, c, g, skip)
    except BaseException as e:
        try:
            _print_exc(e)
        except BaseException:
            pass
        try:
            msg = "%s: %s" % (_real_type(e).__name__, e)
        except BaseException:
            msg = _real_type(e).__name__
        done("exit_error", msg, 1, g, skip)
    done("ok", "", 0, g, skip)


# --- sessions (internal/driver's protocol) ---------------------------------
#
# A restricted python session is one guest child that runs steps in a
# persistent namespace: frames on fds 0 and 1 as internal/driver/doc.go
# describes them (ready, run, out, done), host calls on the channel as in a
# run. The program cannot reach a file descriptor (no os), so print's
# output is sent as out frames by the streams below, with no threads.

class _OutFrames(_io.RawIOBase):
    def __init__(self, send, stream, step):
        self.send, self.stream, self.step = send, stream, step

    def writable(self):
        return True

    def write(self, b):
        b = bytes(b)
        if b:
            self.send({"t": "out", "step": self.step[0], "s": self.stream, "d": _b64.b64encode(b).decode()})
        return len(b)


def _session(cfg, chan):

    def send(obj):
        data = _json.dumps(obj, separators=(",", ":")).encode()
        buf = _struct.pack(">I", len(data)) + data
        while buf:
            buf = buf[_os.write(1, buf):]

    def readn(n):
        out = b""
        while len(out) < n:
            c = _os.read(0, n - len(out))
            if not c:
                _os._exit(0)  # the supervisor closed the session
            out += c
        return out

    step = [0]
    streams = []
    for tag in ("o", "e"):
        raw = _OutFrames(send, tag, step)
        streams.append(_io.TextIOWrapper(_io.BufferedWriter(raw, 16 << 10), encoding="utf-8", errors="backslashreplace", newline="\n"))
    _sys.stdout, _sys.stderr = streams
    active = [False]

    def on_sigint(signum, frame):
        if active[0]:
            raise KeyboardInterrupt
    _signal.signal(_signal.SIGINT, on_sigint)
    g = {"__builtins__": builtins_for(None), "__name__": "__main__"}
    for m in cfg.get("modules") or ():
        if m in _views:
            g[m] = _views[m]
    try:
        g.update(_host_globals(cfg.get("host") or (), chan))
    except (ValueError, KeyError, TypeError) as e:
        print("restricted python: host globals: %s" % e, file=_sys.__stderr__)
        _os._exit(70)
    send({"t": "ready", "lang": "python", "pid": _os.getpid()})
    while True:
        (n,) = _struct.unpack(">I", readn(4))
        if n > (64 << 20):
            _os._exit(3)
        msg = _json.loads(readn(n))
        if msg.get("t") != "run":
            continue
        step[0] = msg.get("step")
        res = {"t": "done", "step": step[0], "kind": "ok", "exit": 0}
        interactive = msg.get("mode") == "interactive"
        name = msg.get("name") or "<step>"
        code = msg.get("code") or ""
        _linecache.cache[name] = (len(code), None, code.splitlines(True), name)
        t0 = _os.times()
        try:
            active[0] = True
            try:
                obj = compile_restricted(code, name, steps=False, interactive=interactive)
                exec(obj, g)
            finally:
                active[0] = False
        except PolicyError as e:
            res.update(kind="syntax", exit=1)
            print("restricted python refused the code:", file=_sys.stderr)
            for line in str(e.args[0]).splitlines():
                print("  " + line, file=_sys.stderr)
        except SyntaxError as e:
            res.update(kind="syntax", exit=1)
            _traceback.print_exception(_real_type(e), e, None)
        except SystemExit as e:
            c = _exit_status(e.code)
            res.update(kind="exit" if c else "ok", exit=c)
            if interactive:
                _flush()
                res["end"] = True
                send(res)
                _os._exit(c)
        except KeyboardInterrupt as e:
            res.update(kind="interrupted", exit=1)
            _print_exc(e)
        except MemoryError as e:
            res.update(kind="memory", exit=1, exc="MemoryError")
        except BaseException as e:
            res.update(kind="exception", exit=1, exc=_real_type(e).__name__)
            try:
                _print_exc(e)
            except BaseException:
                pass
        _flush()
        t1 = _os.times()
        res["cpu_ms"] = int(1000 * sum(b - a for a, b in zip(t0[:2], t1[:2])))
        send(res)
