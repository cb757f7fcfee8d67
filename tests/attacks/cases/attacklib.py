"""attacklib: helpers shared by the attack cases (tests/attacks/cases).

The harness writes this file into the sandbox's work directory next to the
case, so a case imports it as a plain module. It is not a case itself.

Every case reports one line per check on stdout:

    CONTAINED <check>: <detail>   the attack failed the way the case expects
    ESCAPED <check>: <detail>     the attack worked, or a safety guard refused
                                  to try it because the sandbox is not isolated
    BROKEN <check>: <detail>      something a program may do (threads...) failed
    DONE                          the case ran to its end

The harness fails a case on any ESCAPED or BROKEN line and checks the status, the
number of CONTAINED lines and the patterns its header names.

Safety: a case may run on a weak tier (the process tier shares the host) or
on a jail under construction, as root. Destructive attempts (kill -1,
umount, traffic off the host) first check with guard() that the sandbox
really has its own namespace (the harness passes the host's namespace ids),
and every other attempt is harmless when it succeeds (it writes and removes
its own probe file, attaches to the harness's own victim process, passes
invalid arguments that the kernel rejects after the permission check...).
"""
import ast
import ctypes
import errno
import os
import platform
import signal
import sys

PREFIX = "sandrun-attack-"  # the harness sweeps host files with this prefix

if platform.machine() != "x86_64":
    print(f"UNSUPPORTED arch {platform.machine()}: the syscall numbers here are x86_64", flush=True)
    sys.exit(2)

# x86_64 system call numbers.
NR = {
    "personality": 135, "uselib": 134, "ustat": 136, "sysfs": 139,
    "pivot_root": 155, "_sysctl": 156, "adjtimex": 159, "chroot": 161,
    "acct": 163, "settimeofday": 164, "mount": 165, "umount2": 166,
    "swapon": 167, "swapoff": 168, "reboot": 169, "iopl": 172, "ioperm": 173,
    "init_module": 175, "delete_module": 176, "quotactl": 179,
    "nfsservctl": 180, "lookup_dcookie": 212, "clock_settime": 227,
    "mbind": 237, "set_mempolicy": 238, "kexec_load": 246, "add_key": 248,
    "request_key": 249, "keyctl": 250, "unshare": 272, "move_pages": 279,
    "perf_event_open": 298, "name_to_handle_at": 303,
    "open_by_handle_at": 304, "clock_adjtime": 305, "setns": 308,
    "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312,
    "finit_module": 313, "kexec_file_load": 320, "bpf": 321,
    "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "clone3": 435, "ptrace": 101, "clone": 56,
    "getpid": 39,
}

DENIED = {errno.EPERM, errno.EACCES, errno.ENOSYS}


def contained(check, detail=""):
    print(f"CONTAINED {check}: {detail}", flush=True)


def escaped(check, detail=""):
    print(f"ESCAPED {check}: {detail}", flush=True)


def broken(check, detail=""):
    """Ordinary functionality the sandbox must keep (threads, subprocesses)
    does not work: the harness fails the case as it does for ESCAPED."""
    print(f"BROKEN {check}: {detail}", flush=True)


def note(text):
    print(f"NOTE {text}", flush=True)


def done():
    print("DONE", flush=True)


def ename(e):
    return errno.errorcode.get(e, str(e))


# --- what the harness tells the case -------------------------------------

def env_list(name):
    return [p for p in os.environ.get(name, "").split(":") if p]


def canaries():
    """Host files outside the runtime paths the sandbox must not touch."""
    return env_list("SANDRUN_ATTACK_CANARIES")


def victim_pid():
    """A host process the harness owns (a sleep): a safe target."""
    return int(os.environ.get("SANDRUN_ATTACK_VICTIM_PID", "0"))


def host_ns():
    out = {}
    for kv in os.environ.get("SANDRUN_ATTACK_HOST_NS", "").split(","):
        if "=" in kv:
            k, v = kv.split("=", 1)
            out[k] = v
    return out


def private_ns(kind):
    """True only when this process provably has its own `kind` namespace."""
    host = host_ns().get(kind)
    try:
        mine = os.readlink(f"/proc/self/ns/{kind}")
    except OSError:
        return False
    return bool(host) and mine != host


def guard(kind, check):
    """Refuse (and report ESCAPED) a destructive attempt outside a private
    `kind` namespace, so the corpus never harms the host it runs on."""
    if private_ns(kind):
        return True
    escaped(check, f"the sandbox shares the host's {kind} namespace; refusing the destructive attempt")
    return False


# --- raw system calls -----------------------------------------------------

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def _arg(a):
    if a is None:
        return ctypes.c_void_p(None)
    if isinstance(a, int):
        return ctypes.c_long(a)
    if isinstance(a, bytes):
        return ctypes.c_char_p(a)
    if isinstance(a, str):
        return ctypes.c_char_p(a.encode())
    return a  # a ctypes object or byref()


def syscall(name_or_nr, *args):
    """Call a system call; return (ret, errno)."""
    nr = NR[name_or_nr] if isinstance(name_or_nr, str) else name_or_nr
    ctypes.set_errno(0)
    ret = libc.syscall(ctypes.c_long(nr), *[_arg(a) for a in args])
    return ret, (ctypes.get_errno() if ret == -1 else 0)


def in_child(fn, timeout=20):
    """Run fn() in a forked child, so that a seccomp kill or a crash ends
    only the child. Returns ("value", v) with fn's literal return value,
    ("signal", signum) or ("error", text)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            data = repr(("value", fn()))
        except BaseException as e:  # report, never escape the child
            data = repr(("error", f"{type(e).__name__}: {e}"))
            code = 3
        try:
            os.write(w, data.encode())
        finally:
            os._exit(code)
    os.close(w)
    signal.signal(signal.SIGALRM, lambda *_: os.kill(pid, signal.SIGKILL))
    signal.alarm(timeout)
    chunks = []
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    _, st = os.waitpid(pid, 0)
    signal.alarm(0)
    if os.WIFSIGNALED(st):
        return ("signal", os.WTERMSIG(st))
    try:
        return ast.literal_eval(b"".join(chunks).decode())
    except Exception as e:
        return ("error", f"child said nothing useful ({e})")


def expect_denied(check, fn, strict=True, denied=DENIED):
    """fn returns (ret, errno) of one attempt; it runs in a child.

    Contained: the child was killed by SIGSYS (seccomp), or the call failed
    with an errno in `denied` (or, when strict is false, with any errno).
    Escaped: the call succeeded, or (strict) failed with an errno that shows
    it reached the kernel's argument checks instead of being denied."""
    kind, v = in_child(fn)
    if kind == "signal":
        if v == signal.SIGSYS:
            contained(check, "killed by SIGSYS (seccomp)")
        else:
            escaped(check, f"child died of signal {signal.Signals(v).name}, not a denial")
        return
    if kind == "error":
        escaped(check, f"attempt crashed: {v}")
        return
    ret, err = v
    if ret != -1 and ret is not None:
        escaped(check, f"succeeded (returned {ret})")
    elif err in denied or not strict:
        contained(check, f"denied: {ename(err)}")
    else:
        escaped(check, f"not denied: reached the kernel and failed with {ename(err)}")


def expect_oserror(check, fn, allowed=None):
    """fn performs a Python-level operation; contained when it raises an
    OSError (with an errno in `allowed`, when given)."""
    try:
        r = fn()
    except OSError as e:
        if allowed is None or e.errno in allowed:
            contained(check, f"{ename(e.errno)}")
        else:
            escaped(check, f"failed, but with {ename(e.errno)} ({e})")
        return False
    escaped(check, f"succeeded ({str(r)[:60]!r})")
    return True


def visible_pids():
    return sorted(int(d) for d in os.listdir("/proc") if d.isdigit())


def read_proc(path, limit=4096):
    with open(path, "rb") as f:
        return f.read(limit)
