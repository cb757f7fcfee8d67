# sandrun jail zygote for python (backend/jail, docs/architecture/jail.md
# "Warm path"). It runs inside the zygote jail, already past the
# interpreter's start (site and the modules below imported), and forks one
# child per run. The zygote itself never runs user code and never holds a
# run's data: it gets only file descriptors and a slot number; each child
# reads its own run's code, files and environment from its own socket.
#
#   zygote (Z)  --fork-->  C1: setresuid(slot), unshare(user, mnt, pid,
#                              net, ipc, uts), uid/gid map, fork, exit
#                          C2: pid 1 of the run: cgroup, cgroup namespace,
#                              fresh /work /tmp /dev/shm /proc, files,
#                              hostname; forks C3, reaps, reports
#                          C3: setsid, caps, no_new_privs, Landlock,
#                              seccomp, rlimits, fds, env: the program
#
# Frames on every socket are the jail's: one kind byte, a 4-byte
# big-endian length, the payload; file descriptors ride on the first
# read. Failures are reported as (layer, step, errno) codes, never text.
import ctypes as _ct
import atexit as _atexit
import errno as _errno
import functools as _functools
import gc as _gc
import json as _json
import os as _os
import signal as _signal
import socket as _socket
import struct as _struct
import sys as _sys
import base64 as _b64
import builtins as _builtins
import importlib as _importlib
import importlib.machinery as _machinery
import io as _io
import resource as _resource
import select as _select
import stat as _stat
import types as _types

_libc = _ct.CDLL(None, use_errno=True)
_libc.syscall.restype = _ct.c_long
_libc.mount.argtypes = (_ct.c_char_p, _ct.c_char_p, _ct.c_char_p, _ct.c_ulong, _ct.c_char_p)
_libc.unshare.argtypes = (_ct.c_int,)
_libc.prctl.argtypes = (_ct.c_int, _ct.c_ulong, _ct.c_ulong, _ct.c_ulong, _ct.c_ulong)

# Layer codes: backend/jail/layers.go (the order there).
L_PROTOCOL, L_NAMESPACES, L_CGROUP, L_MOUNTS, L_PROC, L_DEV, L_TMPFS, L_FILES = 1, 2, 3, 4, 5, 6, 7, 8
L_PIVOT, L_HOSTNAME, L_CGROUPNS, L_RLIMITS, L_CAPS, L_NNP, L_LANDLOCK, L_SECCOMP, L_EXEC = 9, 10, 11, 12, 13, 14, 15, 16, 17

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC = 0x20000, 0x2000000, 0x4000000, 0x8000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP = 1, 4, 24, 38, 22
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, SECCOMP_MODE_FILTER = 47, 4, 2

INSIDE = 1000  # the one uid and gid inside every jail (ns_linux.go insideID)


class _Fprog(_ct.Structure):
    _fields_ = [("len", _ct.c_ushort), ("filter", _ct.c_void_p)]


class _Beneath(_ct.Structure):
    _pack_ = 1
    _fields_ = [("allowed", _ct.c_uint64), ("fd", _ct.c_int32)]


class Fail(Exception):
    def __init__(self, layer, step, err=0):
        self.layer, self.step, self.err = layer, step, err or _errno.EINVAL


def _check(r, layer, step):
    if r < 0:
        raise Fail(layer, step, _ct.get_errno())
    return r


def _oserr(layer, step, fn, *a):
    try:
        return fn(*a)
    except OSError as e:
        raise Fail(layer, step, e.errno or _errno.EIO)


# --- frames ---------------------------------------------------------------

def _send(fd, kind, payload=b"", fds=()):
    s = _socket.socket(fileno=fd)
    try:
        data = kind + _struct.pack(">I", len(payload)) + payload
        n = _socket.send_fds(s, [data], list(fds)) if fds else s.send(data)
        if n < len(data):
            s.sendall(data[n:])
    finally:
        s.detach()


def _recv(fd, sock=None):
    """One frame: (kind, payload, fds); (None, b"", []) at EOF. sock: a
    socket object made earlier for fd (a guest child reads its config
    under seccomp, which has no call to make one)."""
    s = sock or _socket.socket(fileno=fd)
    try:
        hdr, fds, _, _ = _socket.recv_fds(s, 5, 64)
        if not hdr:
            return None, b"", fds
        while len(hdr) < 5:
            c = s.recv(5 - len(hdr))
            if not c:
                return None, b"", fds
            hdr += c
        n = _struct.unpack(">I", hdr[1:5])[0]
        parts, got = [], 0
        while got < n:
            c = s.recv(min(n - got, 1 << 20))
            if not c:
                return None, b"", fds
            parts.append(c)
            got += len(c)
        return hdr[:1], b"".join(parts), fds
    finally:
        if sock is None:
            s.detach()


def _report(fd, f):
    try:
        _write_frame(fd, b"E", _struct.pack(">HHI", f.layer, f.step & 0xFFFF, f.err))
    except OSError:
        pass


def _write_frame(fd, kind, payload=b""):
    # A frame without descriptors, written with write(2) (the only way
    # left to a guest child under its seccomp allowlist).
    data = kind + _struct.pack(">I", len(payload)) + payload
    while data:
        data = data[_os.write(fd, data):]


# --- the zygote -----------------------------------------------------------

def serve(ctl):
    """The zygote's loop. Returns only in a run's program process (C3),
    with that run's config; the caller then runs the program."""
    _os.set_blocking(ctl, True)
    # Everything imported so far is shared with every child: keep the
    # collector off it (no traversal, no copy-on-write of its headers).
    global _ZYGOTE_MODULES
    _ZYGOTE_MODULES = frozenset(_sys.modules)
    _gc.collect()
    _gc.freeze()
    _send(ctl, b"R", _json.dumps({"pid": _os.getpid()}).encode())
    while True:
        kind, payload, fds = _recv(ctl)
        if kind is None:
            _os._exit(0)  # the supervisor closed the channel
        if kind != b"N" or len(fds) < 4:
            for x in fds:
                _os.close(x)
            _os._exit(3)  # protocol error: the supervisor restarts us
        for x in fds:
            _os.set_blocking(x, True)
        msg = _json.loads(payload)
        slot = int(msg["slot"])
        try:
            pid = _os.fork()
        except OSError as e:
            _report(fds[0], Fail(L_NAMESPACES, 1, e.errno))
            pid = -1
        if pid == 0:
            _os.close(ctl)
            if _GUEST is not None:
                _guest_child(slot, fds, msg)  # never returns
            return _child1(slot, fds)
        for x in fds:
            _os.close(x)
        if pid > 0 and _GUEST is None:
            # C1 only unshares and forks; waiting keeps the zygote
            # single-threaded and bounds it to one setup at a time.
            while True:
                try:
                    _os.waitpid(pid, 0)
                    break
                except InterruptedError:
                    continue
                except ChildProcessError:
                    break


def _child1(slot, fds):
    run = fds[0]
    try:
        uid = INSIDE + slot
        _oserr(L_NAMESPACES, 10, _os.setresgid, uid, uid, uid)
        _oserr(L_NAMESPACES, 11, _os.setresuid, uid, uid, uid)
        # A uid change made us non-dumpable, and then /proc/self/uid_map
        # of the new namespace is owned by an unmapped root: writable
        # again only when dumpable.
        _check(_libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), L_NAMESPACES, 12)
        _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS), L_NAMESPACES, 13)
        for i, (name, line) in enumerate((("setgroups", "deny"), ("uid_map", "%d %d 1" % (INSIDE, uid)), ("gid_map", "%d %d 1" % (INSIDE, uid)))):
            _oserr(L_NAMESPACES, 14 + i, _write, "/proc/self/" + name, line)
        pid = _os.fork()
    except Fail as f:
        _report(run, f)
        _os._exit(1)
    except OSError as e:
        _report(run, Fail(L_NAMESPACES, 20, e.errno))
        _os._exit(1)
    if pid == 0:
        return _child2(fds)
    _os._exit(0)


def _write(path, text):
    fd = _os.open(path, _os.O_WRONLY)
    try:
        _os.write(fd, text.encode())
    finally:
        _os.close(fd)


# --- C2: the run's pid 1 --------------------------------------------------

def _child2(fds):
    run, stdio, procs = fds[0], fds[1:4], fds[4:]
    try:
        # The supervisor's handle on this run: kill and /proc/<pid>/root
        # go through it, whatever our pid is in its namespace.
        pidfd = _oserr(L_PROTOCOL, 3, _os.pidfd_open, _os.getpid())
        _send(run, b"H", b"", [pidfd])
        _os.close(pidfd)
        kind, payload, extra = _recv(run)
        for x in extra:
            _os.close(x)
        if kind != b"C":
            raise Fail(L_PROTOCOL, 1, _errno.EPROTO)
        cfg = _json.loads(payload)
        del payload
        _setup_run(cfg, procs)
        for i, fd in enumerate(stdio):
            _os.dup2(fd, i)
            _os.close(fd)
        # The program's signals must not reach this pid 1 (the kernel
        # drops those without a handler) and it needs python's own SIGINT.
        _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
        pid = _oserr(L_EXEC, 2, _os.fork)
    except Fail as f:
        _report(run, f)
        _os._exit(71)
    except (OSError, ValueError, KeyError, TypeError) as e:
        _report(run, Fail(L_PROTOCOL, 2, getattr(e, "errno", None) or _errno.EPROTO))
        _os._exit(71)
    if pid == 0:
        return _child3(cfg, run)
    del cfg
    null = _os.open("/dev/null", _os.O_RDWR)
    for i in range(3):
        _os.dup2(null, i)
    _os.close(null)
    _send(run, b"S", _struct.pack(">I", pid))
    _reap(run, pid)


def _setup_run(cfg, procs):
    # Join the run's cgroup: each fd is a cgroup.procs the supervisor
    # opened; writing 0 moves the writer (permission is the opener's).
    for i, fd in enumerate(procs):
        try:
            _os.write(fd, b"0")
        except OSError as e:
            raise Fail(L_CGROUP, 10 + i, e.errno)
        _os.close(fd)
    _check(_libc.unshare(CLONE_NEWCGROUP), L_CGROUPNS, 1)
    _check(_libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), L_MOUNTS, 1)
    opts = ("mode=0755,size=%d,nr_inodes=%d" % (cfg["work_size"], cfg["work_inodes"])).encode()
    for i, d in enumerate((b"/tmp", b"/work")):
        _check(_libc.mount(b"tmpfs", d, b"tmpfs", MS_NOSUID | MS_NODEV, opts), L_TMPFS, i + 1)
    _check(_libc.mount(b"tmpfs", b"/dev/shm", b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts), L_TMPFS, 3)
    # A fresh /proc for this pid namespace, over the zygote's.
    _check(_libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None), L_PROC, 1)
    for i, sub in enumerate(cfg["proc_read_only"]):
        t = ("/proc/" + sub).encode()
        if not _os.path.lexists(t):
            continue
        _check(_libc.mount(t, t, None, MS_BIND | MS_REC, None), L_PROC, 10 + i)
        _check(_libc.mount(None, t, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, None), L_PROC, 10 + i)
    _os.chdir("/")
    for i, f in enumerate(cfg["files"]):
        _oserr(L_FILES, 10 + i, _write_file, f)
    try:
        _socket.sethostname(cfg["hostname"])
    except OSError as e:
        raise Fail(L_HOSTNAME, 1, e.errno)
    # Not dumpable: the program (same uid) cannot open /proc/1/mem.
    _check(_libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), L_CAPS, 1)


def _write_file(f):
    name = f["name"]
    parts = name.split("/")
    if name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise OSError(_errno.EINVAL, "bad file name")
    p = "/work/" + name
    d = _os.path.dirname(p)
    if d != "/work":
        _os.makedirs(d, 0o755, exist_ok=True)
    fd = _os.open(p, _os.O_WRONLY | _os.O_CREAT | _os.O_TRUNC | _os.O_NOFOLLOW, f.get("mode") or 0o644)
    try:
        data = _b64.b64decode(f.get("data") or "")
        while data:
            data = data[_os.write(fd, data):]
    finally:
        _os.close(fd)


def _reap(run, pid):
    """Reap every process of the run; when the program ends, kill the rest
    and report its wait status; then wait for the supervisor's release
    (it collects /work through our root meanwhile) and end."""
    r, w = _os.pipe2(_os.O_NONBLOCK | _os.O_CLOEXEC)
    _signal.set_wakeup_fd(w)
    _signal.signal(_signal.SIGCHLD, lambda *_: None)
    status = None
    while status is None:
        while True:
            try:
                wpid, ws = _os.waitpid(-1, _os.WNOHANG)
            except ChildProcessError:
                wpid = 0
            if wpid == 0:
                break
            if wpid == pid:
                status = ws
        if status is not None:
            break
        try:
            ready, _, _ = _select.select([r, run], [], [])
        except InterruptedError:
            continue
        if r in ready:
            try:
                _os.read(r, 512)
            except BlockingIOError:
                pass
        if run in ready:
            kind, payload, extra = _recv(run)
            for x in extra:
                _os.close(x)
            if kind is None:
                _os._exit(0)  # the supervisor is gone: the namespace dies with us
            if kind == b"K" and len(payload) == 4:
                sig = _struct.unpack(">I", payload)[0]
                if 0 < sig < 65:
                    try:
                        _os.kill(-pid, sig)
                    except OSError:
                        pass
    try:
        _os.kill(-1, _signal.SIGKILL)
    except OSError:
        pass
    while True:
        try:
            _os.waitpid(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:
            continue
    _send(run, b"X", _struct.pack(">I", status & 0xFFFFFFFF))
    while True:
        kind, _, extra = _recv(run)
        for x in extra:
            _os.close(x)
        if kind is None or kind == b"D":
            _os._exit(0)


# --- C3: the program ------------------------------------------------------

def _child3(cfg, run):
    try:
        _os.setsid()
        _check(_libc.prctl(PR_SET_PDEATHSIG, _signal.SIGKILL, 0, 0, 0), L_EXEC, 3)
        # As after exec: the program is dumpable (its own /proc/self/*
        # belong to it); its pid 1 above it is not.
        _check(_libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), L_EXEC, 4)
        _restrict(cfg)
        # Only 0, 1 and 2 reach the program.
        _check(_libc.syscall(cfg["sys"]["close_range"], 3, _ct.c_uint(0xFFFFFFFF), 0), L_EXEC, 1)
        _os.chdir("/work")
    except Fail as f:
        _report(run, f)
        _os._exit(71)
    return cfg


def _restrict(cfg):
    sysno = cfg["sys"]
    last = int(open("/proc/sys/kernel/cap_last_cap").read())
    for c in range(last + 1):
        if _libc.prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 and _ct.get_errno() != _errno.EINVAL:
            raise Fail(L_CAPS, 10 + c, _ct.get_errno())
    _check(_libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), L_CAPS, 2)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), L_NNP, 1)
    ll = cfg.get("landlock")
    if ll:
        _landlock(ll, sysno)
    bpf = cfg.get("seccomp")
    if bpf:
        raw = _b64.b64decode(bpf)
        buf = _ct.create_string_buffer(raw, len(raw))
        prog = _Fprog(len(raw) // 8, _ct.addressof(buf))
        _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, _ct.addressof(prog), 0, 0), L_SECCOMP, 2)
    # capset(v3, all zero): effective, permitted and inheritable empty.
    hdr = (_ct.c_uint32 * 2)(0x20080522, 0)
    data = (_ct.c_uint32 * 6)()
    _check(_libc.syscall(sysno["capset"], hdr, data), L_CAPS, 3)
    for i, (res, soft, hard) in enumerate(cfg["rlimits"]):
        try:
            _resource.setrlimit(res, (soft, hard))
        except (OSError, ValueError) as e:
            raise Fail(L_RLIMITS, i + 1, getattr(e, "errno", None) or _errno.EINVAL)


def _landlock(ll, sysno):
    abi = _libc.syscall(sysno["landlock_create_ruleset"], None, 0, 1)  # LANDLOCK_CREATE_RULESET_VERSION
    if abi < ll["min_abi"]:
        raise Fail(L_LANDLOCK, 1, _errno.EOPNOTSUPP)
    attr = (_ct.c_uint64 * 3)(ll["fs"], ll["net"], ll["scoped"])
    fd = _libc.syscall(sysno["landlock_create_ruleset"], attr, ll["attr_size"], 0)
    _check(fd, L_LANDLOCK, 1)

    try:
        for i, rule in enumerate(ll["rules"]):
            path, access = rule["path"], rule["access"]
            try:
                pfd = _os.open(path, _os.O_PATH | _os.O_CLOEXEC)
            except FileNotFoundError:
                continue  # an optional path this view does not have
            except OSError as e:
                raise Fail(L_LANDLOCK, 10 + i, e.errno)
            try:
                if not _stat.S_ISDIR(_os.fstat(pfd).st_mode):
                    access &= ll["file_only"]
                attr = _Beneath(access, pfd)
                _check(_libc.syscall(sysno["landlock_add_rule"], fd, 1, _ct.byref(attr), 0), L_LANDLOCK, 10 + i)
            finally:
                _os.close(pfd)
        _check(_libc.syscall(sysno["landlock_restrict_self"], fd, 0), L_LANDLOCK, 2)
    finally:
        _os.close(fd)


# --- running the program (the seam issue 13 plugs into) -------------------

def prepare(cfg):
    """Make this process look like `python3 FILE ARGS` at its first line:
    environment, standard streams, argv, sys.path, a fresh __main__.
    Returns the program's path and its globals."""
    path = cfg["file"]
    # The environment is the request's alone.
    _os.environ.clear()
    for kv in cfg["env"]:
        k, _, v = kv.partition("=")
        _os.environ[k] = v
    if "time" in _sys.modules:
        _sys.modules["time"].tzset()
    # Fresh standard streams on the run's pipes, made as the interpreter
    # made its own (create_stdio): same encoding, errors, buffering and
    # write-through (-u), with nothing buffered from before the fork.
    streams = []
    for fd, old, name in ((0, _sys.__stdin__, "<stdin>"), (1, _sys.__stdout__, "<stdout>"), (2, _sys.__stderr__, "<stderr>")):
        write = fd != 0
        raw = _io.FileIO(fd, "wb" if write else "rb", closefd=False)
        raw.name = name
        if write and old.write_through:
            buf = raw  # -u: unbuffered binary layer
        elif write:
            buf = _io.BufferedWriter(raw)
        else:
            buf = _io.BufferedReader(raw)
        s = _io.TextIOWrapper(buf, encoding=old.encoding, errors=old.errors, newline="\n" if write else None,
                              line_buffering=old.line_buffering, write_through=old.write_through)
        s.mode = "w" if write else "r"
        streams.append(s)
    _sys.stdin, _sys.stdout, _sys.stderr = streams
    _sys.__stdin__, _sys.__stdout__, _sys.__stderr__ = streams
    _sys.argv = [path] + list(cfg["args"])
    _sys.orig_argv = list(cfg["argv"])
    _sys.path[0] = _os.path.dirname(path)
    _sys.path_importer_cache.clear()
    _importlib.invalidate_caches()
    # __main__ as the interpreter makes it (add_main_module, then
    # set_main_loader for a file), in the same key order.
    main = _types.ModuleType("__main__")
    main.__annotations__ = {}
    main.__builtins__ = _builtins
    main.__file__ = path
    main.__cached__ = None
    main.__loader__ = _machinery.SourceFileLoader("__main__", path)
    _sys.modules["__main__"] = main
    _signal.signal(_signal.SIGINT, _signal.default_int_handler)
    return path, main.__dict__


# PyRun_FileExFlags parses and runs a file as the interpreter runs a
# script: the file tokenizer (encoding declarations, BOM, its error
# messages), the file closed before the code runs.
_libc.fopen.restype = _ct.c_void_p
_libc.fopen.argtypes = (_ct.c_char_p, _ct.c_char_p)
_run_file = _ct.pythonapi.PyRun_FileExFlags
_run_file.restype = _ct.py_object
_run_file.argtypes = (_ct.c_void_p, _ct.c_char_p, _ct.c_int, _ct.py_object, _ct.py_object, _ct.c_int, _ct.c_void_p)


def run_file(cfg, path, globals_):
    """The runner of a script: `python3 FILE`. Returns the call that runs
    it (a C callable: no frame of ours between the program and the module
    frame that calls it)."""
    fp = _libc.fopen(_os.fsencode(path), b"rb")
    if not fp:
        e = _ct.get_errno()
        raise OSError(e, _os.strerror(e), path)
    return _functools.partial(_run_file, fp, _os.fsencode(path), 257, globals_, globals_, 1, None)  # Py_file_input, close it


# RUNNERS are how a child runs its program, by the config's "runner"
# (default "file"). This is the seam for other ways to run code in a
# fully sandboxed child (a restricted-Python policy compiles and runs the
# code its own way): a runner gets the run's config, the program's path
# and the fresh __main__ globals, and returns the call that runs the
# program; what the call raises is reported as the interpreter would.
RUNNERS = {"file": run_file}


def _user_frames(tb):
    # The program's traceback without the zygote's frames at its root.
    while tb is not None and tb.tb_frame.f_globals is _ZYGOTE_GLOBALS:
        tb = tb.tb_next
    return tb


def finish(e, tb):
    """End the program as the interpreter ends a script, e being what it
    raised (None: it returned; tb: its frames, ours left out):
    SystemExit's code; any other exception through sys.excepthook and
    status 1; KeyboardInterrupt by SIGINT after the shutdown."""
    sigint = False
    if e is None:
        status = 0
    elif isinstance(e, SystemExit):
        status = _exit_status(e.code)
    else:
        e.__traceback__ = tb
        _sys.last_type, _sys.last_value, _sys.last_traceback = type(e), e, tb
        try:
            _sys.excepthook(type(e), e, tb)
        except BaseException as e2:
            print("Error in sys.excepthook:", file=_sys.stderr)
            _sys.__excepthook__(type(e2), e2, e2.__traceback__)
            print("\nOriginal exception was:", file=_sys.stderr)
            _sys.__excepthook__(type(e), e, tb)
        status, sigint = 1, isinstance(e, KeyboardInterrupt)
    e = tb = None
    shutdown(status, sigint)


def _exit_status(code):
    # As _Py_HandleSystemExit: None is 0, an int is itself (exit() keeps
    # its low byte), anything else is printed to stderr and is 1.
    if code is None:
        return 0
    if isinstance(code, int):
        return (code if -(1 << 63) <= code < (1 << 63) else -1) & 0xFF
    try:
        print(code, file=_sys.stderr)
    except BaseException:
        pass
    return 1


def _flush():
    ok = True
    for name in ("stdout", "stderr"):
        f = getattr(_sys, name, None)
        if f is None or getattr(f, "closed", False):
            continue
        try:
            f.flush()
        except BaseException as e:
            ok = False
            if name == "stdout":
                try:
                    _sys.unraisablehook(_UnraisableArgs(type(e), e, e.__traceback__, None, f))
                except BaseException:
                    pass
    return ok


class _UnraisableArgs:
    def __init__(self, exc_type, exc_value, exc_traceback, err_msg, obj):
        self.exc_type, self.exc_value, self.exc_traceback = exc_type, exc_value, exc_traceback
        self.err_msg, self.object = err_msg, obj


def shutdown(status, sigint=False):
    """What the interpreter's shutdown does that a program can observe,
    then _exit: wait for non-daemon threads, atexit callbacks, flush the
    standard streams (status 120 if stdout cannot be flushed), clear the
    program's own modules (its objects' __del__ run). The zygote's shared
    state is left alone: tearing it down would copy every page of it."""
    if "threading" in _sys.modules:
        try:
            _sys.modules["threading"]._shutdown()
        except BaseException as e:
            _sys.unraisablehook(_UnraisableArgs(type(e), e, e.__traceback__, "Exception ignored on threading shutdown", None))
    try:
        _atexit._run_exitfuncs()
    except BaseException:
        pass
    if not _flush():
        status = 120
    try:
        for name in [n for n in list(_sys.modules) if n not in _ZYGOTE_MODULES] + ["__main__"]:
            m = _sys.modules.get(name)
            d = getattr(m, "__dict__", None)
            if not isinstance(d, dict):
                continue
            # In the interpreter's order: underscored names first.
            for pass_ in (0, 1):
                for k in list(d):
                    if k != "__builtins__" and (k.startswith("_") == (pass_ == 0)):
                        d[k] = None
        _gc.collect()
    except BaseException:
        pass
    _flush()
    if sigint:
        _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
        _os.kill(_os.getpid(), _signal.SIGINT)
        status = 128 + _signal.SIGINT
    _os._exit(status)


# --- guests (backend/jail/guest_linux.go) ------------------------------------
#
# A guest zygote preloads a guest's modules and forks one light child per
# run: its own uid, the run's cgroup, no capabilities, no_new_privs,
# rlimits, Landlock, a seccomp allowlist; then the guest's entry runs
# with the run's config and the channel as fd 3. No namespaces per run,
# and no reaper: the child cannot make the calls namespaces guard
# against, the kernel reaps it (the zygote ignores SIGCHLD), and the
# supervisor sees its end through the pidfd it sent.

_GUEST = None  # the guest's entry, when this zygote serves a guest
_GUEST_PREPARE = None  # its warm-up, run in each child before its run


def _preload(argv):
    """Import a guest's modules (argv[1], JSON) before serving."""
    global _GUEST, _GUEST_PREPARE
    if len(argv) < 2:
        return
    spec = _json.loads(argv[1])
    for m in spec["modules"]:
        mod = _types.ModuleType(m["name"])
        mod.__file__ = "<sandrun guest %s>" % m["name"]
        _sys.modules[m["name"]] = mod
        exec(compile(m["source"], mod.__file__, "exec"), mod.__dict__)
    module, _, func = spec["entry"].rpartition(".")
    _GUEST = getattr(_sys.modules[module], func)
    if spec.get("prepare"):
        module, _, func = spec["prepare"].rpartition(".")
        _GUEST_PREPARE = getattr(_sys.modules[module], func)
    _signal.signal(_signal.SIGCHLD, _signal.SIG_IGN)


def _guest_child(slot, fds, msg):
    """A guest's child. Before its run (it may be forked ahead of one):
    its cgroup, its uid, a handle on itself for the supervisor, no
    capabilities, no_new_privs, Landlock and the seccomp allowlist (the
    run-independent layers, from the fork request): it waits for its run
    fully confined. Then, with the run's config: rlimits, the channel as
    fd 3, the entry."""
    run, stdio, procs = fds[0], fds[1:4], fds[4:]
    try:
        _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
        for i, fd in enumerate(procs):
            try:
                _os.write(fd, b"0")
            except OSError as e:
                raise Fail(L_CGROUP, 10 + i, e.errno)
            _os.close(fd)
        uid = INSIDE + slot
        _oserr(L_NAMESPACES, 10, _os.setresgid, uid, uid, uid)
        _oserr(L_NAMESPACES, 11, _os.setresuid, uid, uid, uid)
        pidfd = _oserr(L_PROTOCOL, 3, _os.pidfd_open, _os.getpid())
        _send(run, b"H", b"", [pidfd])
        _os.close(pidfd)
        for i, fd in enumerate(stdio):
            _os.dup2(fd, i)
            _os.close(fd)
        # The streams over fds 0-2 do not depend on the run: made now,
        # off its path.
        _guest_streams()
        _os.setsid()
        _check(_libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), L_CAPS, 1)
        guest = msg["guest"]
        _drop_caps(guest["sys"])
        _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), L_NNP, 1)
        _landlock(guest["landlock"], guest["sys"])
        sock = _socket.socket(fileno=run)  # before seccomp: see _recv
        raw = _b64.b64decode(guest["seccomp"])
        buf = _ct.create_string_buffer(raw, len(raw))
        prog = _Fprog(len(raw) // 8, _ct.addressof(buf))
        _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, _ct.addressof(prog), 0, 0), L_SECCOMP, 2)
        if _GUEST_PREPARE is not None:
            # Fully confined, with no run yet: the guest's warm-up
            # copies the pages its run would write (guest.Spec.Prepare).
            try:
                _GUEST_PREPARE()
            except BaseException:
                raise Fail(L_EXEC, 6, _errno.EPROTO) from None
        # The run: its config, with the channel.
        kind, payload, extra = _recv(run, sock)
        # The CPU this process used before its run (its setup and the
        # guest's warm-up): not the run's (sent with its start).
        ru = _resource.getrusage(_resource.RUSAGE_SELF)
        cpu_before = int((ru.ru_utime + ru.ru_stime) * 1e9)
        if kind != b"C" or len(extra) != 1:
            for x in extra:
                _os.close(x)
            raise Fail(L_PROTOCOL, 1, _errno.EPROTO)
        chan = extra[0]
        cfg = _json.loads(payload)
        del payload
        # prlimit64 on itself is in the allowlist: a limit only goes down
        # past its hard value, which is the run's.
        for i, (res, soft, hard) in enumerate(cfg["rlimits"]):
            try:
                _resource.setrlimit(res, (soft, hard))
            except (OSError, ValueError) as e:
                raise Fail(L_RLIMITS, i + 1, getattr(e, "errno", None) or _errno.EINVAL)
        # The channel becomes fd 3 (the run socket is never 3: the
        # zygote's own channel held it when the socket came); nothing
        # else past stdio stays open. Both calls are in the allowlist.
        if chan != 3:
            _oserr(L_EXEC, 5, _os.dup2, chan, 3)
        _write_frame(run, b"S", _struct.pack(">IQ", _os.getpid(), cpu_before))
        _check(_libc.syscall(guest["sys"]["close_range"], 4, _ct.c_uint(0xFFFFFFFF), 0), L_EXEC, 1)
    except Fail as f:
        _report(run, f)
        _os._exit(71)
    except (OSError, ValueError, KeyError, TypeError) as e:
        _report(run, Fail(L_PROTOCOL, 2, getattr(e, "errno", None) or _errno.EPROTO))
        _os._exit(71)
    entry = cfg["config"]
    del cfg
    _signal.signal(_signal.SIGINT, _signal.default_int_handler)
    try:
        _GUEST(entry, 3)
    finally:
        _os._exit(70)  # the entry ends the process itself


def _drop_caps(sysno):
    # The zygote holds only CAP_SETUID and CAP_SETGID (zygoteCaps), and
    # not CAP_SETPCAP, so the bounding set stays as it is: it limits only
    # what an exec could gain, and a guest child has neither exec nor
    # new privileges.
    _check(_libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), L_CAPS, 2)
    hdr = (_ct.c_uint32 * 2)(0x20080522, 0)
    data = (_ct.c_uint32 * 6)()
    _check(_libc.syscall(sysno["capset"], hdr, data), L_CAPS, 3)


def _guest_streams():
    streams = []
    for fd, old, name in ((0, _sys.__stdin__, "<stdin>"), (1, _sys.__stdout__, "<stdout>"), (2, _sys.__stderr__, "<stderr>")):
        write = fd != 0
        raw = _io.FileIO(fd, "wb" if write else "rb", closefd=False)
        raw.name = name
        buf = _io.BufferedWriter(raw) if write else _io.BufferedReader(raw)
        s = _io.TextIOWrapper(buf, encoding=old.encoding, errors=old.errors, newline="\n" if write else None)
        s.mode = "w" if write else "r"
        streams.append(s)
    _sys.stdin, _sys.stdout, _sys.stderr = streams
    _sys.__stdin__, _sys.__stdout__, _sys.__stderr__ = streams


# The zygote's entry: serve() returns only in a run's program process.
# The program then runs right under this module frame.
_ZYGOTE_GLOBALS = globals()
_preload(_sys.argv)
_cfg = serve(3)
_path, _globals = prepare(_cfg)
try:
    _call = RUNNERS[_cfg.get("runner", "file")](_cfg, _path, _globals)
    del _cfg
    _call()
except BaseException as _e:
    finish(_e, _user_frames(_e.__traceback__))
finish(None, None)
