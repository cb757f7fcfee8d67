# case: 24
# title: ioctl TIOCSTI (terminal input injection), also with the high bits set
# tries: TIOCSTI and TIOCLINUX on stdin/stdout/stderr; then in a new session, open a pty, make it the
# tries: controlling terminal and inject a character with TIOCSTI, plain and with bit 32 set in the
# tries: request (a filter comparing all 64 bits misses it; the kernel uses the low 32)
# means: every injection fails: denied (EPERM/EACCES/SIGSYS) or there is no terminal (ENOTTY, EIO, no
# means: pty device); none succeeds
# expect-status: ok
# expect-contained: 8
# expect-stdout: ^DONE$
import ctypes, errno, os, signal
from attacklib import contained, escaped, done, ename, in_child, syscall

TIOCSTI, TIOCLINUX, TIOCSCTTY, HIGH = 0x5412, 0x541C, 0x540E, 1 << 32
ch = ctypes.c_char(b"x")
sub = ctypes.c_char(b"\x0c")  # TIOCLINUX subcode

def report(name, kind, v):
    if kind == "signal":
        (contained if v == signal.SIGSYS else escaped)(name, f"signal {signal.Signals(v).name}")
    elif kind == "value" and v[0] == -1:
        contained(name, f"failed: {ename(v[1])}")
    elif kind == "value" and v[0] == "noterm":
        contained(name, f"no terminal available: {v[1]}")
    else:
        escaped(name, f"{kind} {v}")

for fd in (0, 1, 2):
    report(f"TIOCSTI on fd {fd}", *in_child(lambda: syscall(16, fd, TIOCSTI, ctypes.byref(ch))))
report("TIOCLINUX on fd 1", *in_child(lambda: syscall(16, 1, TIOCLINUX, ctypes.byref(sub))))

def on_pty(request):
    def fn():
        os.setsid()
        try:
            master, slave = os.openpty()
        except OSError as e:
            return ("noterm", ename(e.errno))
        syscall(16, slave, TIOCSCTTY, 0)
        return syscall(16, slave, request, ctypes.byref(ch))
    return fn

for name, req in (("TIOCSTI on a pty", TIOCSTI), ("TIOCSTI|1<<32 on a pty", TIOCSTI | HIGH),
                  ("TIOCSTI|0xffffffff00000000 on a pty", TIOCSTI | 0xFFFFFFFF00000000)):
    report(name, *in_child(on_pty(req)))
report("TIOCSTI|1<<32 on fd 0", *in_child(lambda: syscall(16, 0, TIOCSTI | HIGH, ctypes.byref(ch))))
done()
