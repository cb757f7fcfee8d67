# case: 16
# title: process_vm_readv and process_vm_writev
# tries: read its own memory, its child's and the host victim's with process_vm_readv; write its own
# tries: with process_vm_writev
# tries: and, the ptrace-free way to the same memory, open /proc/TID/mem, maps and fd of every other
# tries: task (process or thread) it can see, the sandbox's own init included
# means: denied (EPERM/EACCES/ENOSYS or SIGSYS), even on itself; ESRCH for the host pid also counts;
# means: every other task's mem, maps and fd cannot be opened
# expect-status: ok
# expect-contained: 4
# expect-stdout: ^DONE$
import ctypes, errno, os, signal, time
from attacklib import contained, escaped, ename, expect_denied, syscall, done, victim_pid, visible_pids, DENIED

class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

buf = ctypes.create_string_buffer(64)
src = ctypes.create_string_buffer(b"sandrun", 64)
local = iovec(ctypes.cast(buf, ctypes.c_void_p), 64)
remote = iovec(ctypes.cast(src, ctypes.c_void_p), 64)

child = os.fork()
if child == 0:
    time.sleep(30)
    os._exit(0)

def rw(name, pid):
    return lambda: syscall(name, pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)

expect_denied("process_vm_readv self", rw("process_vm_readv", os.getpid()))
expect_denied("process_vm_readv child", rw("process_vm_readv", child))
expect_denied("process_vm_readv host victim", rw("process_vm_readv", victim_pid()), denied=DENIED | {errno.ESRCH})
expect_denied("process_vm_writev self", rw("process_vm_writev", os.getpid()))
os.kill(child, signal.SIGKILL)
os.waitpid(child, 0)
mine = set(os.listdir("/proc/self/task"))
for pid in visible_pids():
    if pid == os.getpid():
        continue
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        tids = [str(pid)]
    for tid in tids:
        if tid in mine:
            continue
        for what in ("mem", "maps", "fd"):
            p = f"/proc/{pid}/task/{tid}/{what}"
            try:
                if what == "fd":
                    r = os.listdir(p)
                else:
                    with open(p, "rb") as f:
                        r = f.read(64)
            except OSError as e:
                contained(f"open {p}", ename(e.errno))
                continue
            escaped(f"open {p}", f"{r!r}"[:80])
done()
