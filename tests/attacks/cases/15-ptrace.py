# case: 15
# title: ptrace (PTRACE_TRACEME, attach, seize)
# tries: PTRACE_TRACEME; PTRACE_ATTACH and PTRACE_SEIZE on its own child, on its parent (only inside a
# tries: private pid namespace: outside, the parent is the supervisor) and on the
# tries: harness's host victim process (each attempt in a forked child; attached ones are detached)
# means: every ptrace call is denied (EPERM/EACCES/ENOSYS or the child killed by SIGSYS); ESRCH for the
# means: host pid also counts, since that pid does not exist inside
# expect-status: ok
# expect-contained: 7
# expect-stdout: ^DONE$
import errno, os, signal, time
from attacklib import contained, expect_denied, guard, syscall, done, victim_pid, DENIED

TRACEME, ATTACH, DETACH, SEIZE = 0, 16, 17, 0x4206
child = os.fork()
if child == 0:
    time.sleep(30)
    os._exit(0)

def attach(pid, req):
    def fn():
        r = syscall("ptrace", req, pid, 0, 0)
        if r[0] == 0:
            time.sleep(0.05)
            syscall("ptrace", DETACH, pid, 0, 0)
        return r
    return fn

expect_denied("PTRACE_TRACEME", lambda: syscall("ptrace", TRACEME, 0, 0, 0))
for name, pid in (("own child", child), ("parent", os.getppid()), ("host victim", victim_pid())):
    # Outside a private pid namespace the parent is the supervisor itself:
    # stopping it would hang the harness, so do not try there.
    if name == "parent" and not guard("pid", "PTRACE_ATTACH parent"):
        continue
    if name == "parent" and os.getppid() == 0:
        contained("PTRACE_ATTACH parent", "outside the pid namespace (ppid 0)")
        contained("PTRACE_SEIZE parent", "outside the pid namespace (ppid 0)")
        continue
    ok = DENIED | ({errno.ESRCH} if name == "host victim" else set())
    expect_denied(f"PTRACE_ATTACH {name}", attach(pid, ATTACH), denied=ok)
    expect_denied(f"PTRACE_SEIZE {name}", attach(pid, SEIZE), denied=ok)
os.kill(child, signal.SIGKILL)
os.waitpid(child, 0)
done()
