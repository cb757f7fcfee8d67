# sandrun session driver for python: runs inside the sandboxed interpreter.
# Protocol: internal/driver/doc.go. Everything here is reachable by the
# user's code; the supervisor treats every frame it sends as untrusted.
import base64 as _b64, json as _json, os as _os, signal as _signal, struct as _struct, sys as _sys, threading as _th, traceback as _tb, types as _types

_th.stack_size(256 << 10)  # small reader-thread stacks: RLIMIT_AS counts them
_PIN = _os.dup(0)
_POUT = _os.dup(1)
_null = _os.open(_os.devnull, _os.O_RDWR)
_os.dup2(_null, 0)
_os.dup2(_null, 1)
_os.dup2(_null, 2)
_lock = _th.Lock()
_MAXIN = 64 << 20


def _send(obj):
    b = _json.dumps(obj, separators=(",", ":")).encode()
    data = _struct.pack(">I", len(b)) + b
    with _lock:
        while data:
            n = _os.write(_POUT, data)
            data = data[n:]


def _readn(n):
    buf = b""
    while len(buf) < n:
        c = _os.read(_PIN, n - len(buf))
        if not c:
            _os._exit(0)  # the supervisor closed the channel: end quietly
        buf += c
    return buf


def _recv():
    (n,) = _struct.unpack(">I", _readn(4))
    if n > _MAXIN:
        _os._exit(3)
    return _json.loads(_readn(n))


class _State:
    active = False


def _on_sigint(signum, frame):
    # Interrupt only the user's step, never the driver's own bookkeeping.
    if _State.active:
        raise KeyboardInterrupt


_signal.signal(_signal.SIGINT, _on_sigint)


def _pump(fd, step, stream):
    try:
        while True:
            c = _os.read(fd, 65536)
            if not c:
                break
            _send({"t": "out", "step": step, "s": stream, "d": _b64.b64encode(c).decode()})
    except OSError:
        pass
    finally:
        _os.close(fd)


def _feed(fd, data):
    try:
        while data:
            n = _os.write(fd, data)
            data = data[n:]
    except OSError:
        pass
    finally:
        _os.close(fd)


_main = _sys.modules["__main__"]
_g = {"__name__": "__main__", "__builtins__": __builtins__}

# The display module (internal/display): a step's last value and the
# figures still open at its end come back as display items, sent as the
# step's "d" stream (one JSON line each). _DISPLAY_SOURCE and _RUNTIME_ENV
# are put before this file by the supervisor (driver.Args): the runtime's
# variables, set before any code of the user's can import matplotlib.
for _k, _v in list(_RUNTIME_ENV.items()):
    _os.environ.setdefault(_k, _v)
_disp = _types.ModuleType("sandrun_display")
_disp.__file__ = _os.path.join(_os.getcwd(), "sandrun_display.py")
exec(compile(_DISPLAY_SOURCE, "<sandrun_display>", "exec"), _disp.__dict__)
_sys.modules["sandrun_display"] = _disp
del _DISPLAY_SOURCE


_DRIVER = globals()


def _print_tb(e):
    # Every exception of the chain without the driver's frames (the step
    # runner, the SIGINT handler), as python's REPL prints it
    # (internal/pytb, put before this source).
    _print_user_exc(e, _DRIVER)


def _compile(msg):
    """The step's code, and its last expression apart (None if the step
    does not end with one), whose value is displayed as a notebook cell's."""
    name = msg.get("name") or "<step>"
    import ast

    if msg.get("mode") != "interactive":
        tree = ast.parse(msg["code"], name, "exec")
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
            return compile(tree, name, "exec"), compile(last, name, "eval")
        return compile(tree, name, "exec"), None
    # A REPL line: python's "single" mode, for every statement of the
    # block, so each expression statement's value goes through
    # sys.displayhook (printed unless None, kept in builtins._).
    import ast

    tree = ast.parse(msg["code"], name, "exec")
    return compile(ast.Interactive(body=tree.body), name, "single"), None


def _send_display(step, items):
    for it in items:
        data = (_json.dumps(it) + "\n").encode()
        for i in range(0, len(data), 49152):
            _send({"t": "out", "step": step, "s": "d", "d": _b64.b64encode(data[i:i + 49152]).decode()})


def _forward(pumps, wait):
    # Flush, then close our write ends so the pumps see EOF and forward
    # what is left; a background child that still holds a pipe only delays
    # this by wait.
    for f in (_sys.stdout, _sys.stderr):
        try:
            f.flush()
        except Exception:
            pass
    _os.dup2(_null, 0)
    _os.dup2(_null, 1)
    _os.dup2(_null, 2)
    for t in pumps:
        t.join(wait)


def _end(res, pumps):
    # An interactive step that exits ends the interpreter with that code,
    # as python's REPL does. The output is forwarded first, then a done
    # frame marked "end".
    _forward(pumps, 2)
    res["end"] = True
    _send(res)
    # Exit only once the supervisor has read everything: it closes our
    # input when the done frame arrives (bounded, should it not).
    import select

    while select.select([_PIN], [], [], 5)[0] and _os.read(_PIN, 65536):
        pass
    _os._exit(res["exit"])


def _step(msg):
    step = msg["step"]
    res = {"t": "done", "step": step, "kind": "ok", "exit": 0}
    pumps = []
    try:
        for fd, stream in ((1, "o"), (2, "e")):
            r, w = _os.pipe()
            _os.dup2(w, fd)
            _os.close(w)
            t = _th.Thread(target=_pump, args=(r, step, stream), daemon=True)
            t.start()
            pumps.append(t)
        stdin = msg.get("stdin") or ""
        if stdin:
            r, w = _os.pipe()
            _os.dup2(r, 0)
            _os.close(r)
            _th.Thread(target=_feed, args=(w, stdin.encode()), daemon=True).start()
    except (MemoryError, RuntimeError, OSError) as e:
        # No room for the step's pipes or threads (a memory limit below
        # what the interpreter already holds): report it, keep the driver.
        for fd in (0, 1, 2):
            _os.dup2(_null, fd)
        res.update(kind="memory", exit=1, exc=type(e).__name__)
        _send(res)
        return
    if msg.get("env"):
        _os.environ.update(msg["env"])
    if msg.get("argv") is not None:
        _sys.argv = [msg.get("name") or "-c"] + list(msg["argv"])
    t0 = _os.times()
    shown = []
    _disp.sink = shown.append
    _disp._state.update(items=0, output=0)
    # A REPL line echoes its values with python's displayhook (and gives
    # their HTML to the display); a program's own hook is left alone.
    if msg.get("mode") == "interactive" and _sys.displayhook is _sys.__displayhook__:
        _sys.displayhook = _disp.displayhook
    try:
        _State.active = True
        try:
            code, last = _compile(msg)
            exec(code, _g)
            if last is not None:
                _disp.display_value(eval(last, _g))
            # Figures still open at the step's end are shown and closed,
            # as a notebook cell's (a REPL line's too: the console shows
            # them).
            _disp.flush_figures()
        finally:
            _State.active = False
    except SyntaxError as e:
        res.update(kind="syntax", exit=1)
        # No traceback for code that never ran: python's own format.
        _tb.print_exception(type(e), e, None)
    except SystemExit as e:
        c = e.code
        if c is None:
            c = 0
        elif not isinstance(c, int):
            print(c, file=_sys.stderr)
            c = 1
        res.update(kind="exit" if c else "ok", exit=c)
        if msg.get("mode") == "interactive":
            res["exit"] = c & 0xFF
            _end(res, pumps)
    except KeyboardInterrupt as e:
        res.update(kind="interrupted", exit=1)
        _print_tb(e)
    except MemoryError as e:
        res.update(kind="memory", exit=1, exc="MemoryError")
        try:
            _print_tb(e)
        except MemoryError:
            pass
    except BaseException as e:
        res.update(kind="exception", exit=1, exc=type(e).__name__)
        _print_tb(e)
    try:
        _send_display(step, shown)
    except MemoryError:
        res.update(kind="memory", exit=1, exc="MemoryError")
    del shown[:]
    _forward(pumps, 0.5)
    t1 = _os.times()
    res["cpu_ms"] = int(1000 * sum(b - a for a, b in zip(t0[:4], t1[:4])))
    _send(res)


_send({"t": "ready", "lang": "python", "pid": _os.getpid()})
while True:
    _m = _recv()
    if _m.get("t") == "run":
        _step(_m)
