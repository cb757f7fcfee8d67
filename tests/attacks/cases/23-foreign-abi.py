# case: 23
# title: i386 int 0x80 and x32 system call numbers
# tries: from mmap'd machine code, int 0x80 with the i386 numbers of getpid and unshare(CLONE_NEWUSER)
# tries: (a filter that checks only x86_64 numbers lets these through); through syscall(2), the x32
# tries: numbers (0x40000000 | nr) of getpid and unshare
# means: every foreign-ABI call is killed (SIGSYS) or denied (EPERM/ENOSYS); SIGSEGV means this host
# means: kernel has no ia32 emulation, which contains it too
# expect-status: ok
# expect-contained: 4
# expect-stdout: ^DONE$
import ctypes, errno, mmap, os, signal
from attacklib import contained, escaped, done, ename, in_child, syscall, note

def machine_code(body):
    # push rbx; <body>; int 0x80; pop rbx; ret   (rbx is callee-saved)
    return b"\x53" + body + b"\xcd\x80\x5b\xc3"

GETPID = machine_code(b"\xb8\x14\x00\x00\x00")                                # mov eax, 20
UNSHARE = machine_code(b"\xb8\x36\x01\x00\x00" + b"\xbb\x00\x00\x00\x10")     # mov eax, 310; mov ebx, CLONE_NEWUSER

def exec_mem(code):
    """Executable memory holding code, or None when the sandbox refuses it."""
    try:
        m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    except OSError:
        m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        m.write(code)
        addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.mprotect(ctypes.c_void_p(addr), 4096, 5) != 0:  # PROT_READ|PROT_EXEC
            return None, None
        return m, addr
    m.write(code)
    return m, ctypes.addressof(ctypes.c_char.from_buffer(m))

def int80(code):
    def fn():
        m, addr = exec_mem(code)
        if m is None:
            return ("noexec", 0)
        return ("ret", ctypes.CFUNCTYPE(ctypes.c_int)(addr)())
    return fn

for name, code in (("i386 getpid", GETPID), ("i386 unshare(CLONE_NEWUSER)", UNSHARE)):
    kind, v = in_child(int80(code))
    if kind == "signal":
        if v == signal.SIGSYS:
            contained(name, "killed by SIGSYS (seccomp architecture check)")
        elif v == signal.SIGSEGV:
            contained(name, "SIGSEGV: this kernel has no ia32 emulation")
        else:
            escaped(name, f"died of {signal.Signals(v).name}")
    elif kind == "value" and v[0] == "noexec":
        contained(name, "no executable memory can be made here (W^X)")
    elif kind == "value" and v[1] < 0 and -v[1] in (errno.EPERM, errno.ENOSYS, errno.EACCES):
        contained(name, f"denied: {ename(-v[1])}")
    else:
        escaped(name, f"the i386 call ran: {v}")

X32 = 0x40000000
for name, nr, args in (("x32 getpid", X32 | 39, ()), ("x32 unshare(CLONE_NEWUSER)", X32 | 272, (0x10000000,))):
    kind, v = in_child(lambda: syscall(nr, *args))
    if kind == "signal" and v == signal.SIGSYS:
        contained(name, "killed by SIGSYS")
    elif kind == "value" and v[0] == -1 and v[1] in (errno.EPERM, errno.ENOSYS, errno.EACCES):
        contained(name, f"denied: {ename(v[1])}")
    else:
        escaped(name, f"{kind} {v}")
done()
