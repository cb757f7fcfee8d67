# case: 18
# title: unshare, setns, clone with namespace flags
# tries: unshare(CLONE_NEWUSER), unshare(CLONE_NEWNS), unshare(CLONE_NEWNET); setns to its own
# tries: /proc/self/ns/{mnt,net,user}; raw clone(CLONE_NEWUSER)
# means: every call is denied (EPERM/EACCES/ENOSYS or SIGSYS); a new user namespace would give the
# means: program a full capability set inside it, the first step of most kernel exploits
# expect-status: ok
# expect-contained: 7
# expect-stdout: ^DONE$
import os, signal
from attacklib import expect_denied, syscall, done, DENIED
import errno

NEWNS, NEWUSER, NEWNET = 0x20000, 0x10000000, 0x40000000

def setns(kind):
    def fn():
        try:
            fd = os.open(f"/proc/self/ns/{kind}", os.O_RDONLY)
        except OSError as e:
            return (-1, e.errno)
        return syscall("setns", fd, 0)
    return fn

def clone_newuser():
    r = syscall("clone", NEWUSER | signal.SIGCHLD, None, None, None, 0)
    if r[0] == 0:
        os._exit(0)  # the raw-cloned child: leave at once
    if r[0] > 0:
        os.waitpid(r[0], 0)
    return r

for name, flag in (("CLONE_NEWUSER", NEWUSER), ("CLONE_NEWNS", NEWNS), ("CLONE_NEWNET", NEWNET)):
    expect_denied(f"unshare({name})", lambda flag=flag: syscall("unshare", flag))
for kind in ("mnt", "net", "user"):
    # EINVAL is what an unfiltered kernel says for joining one's own user
    # namespace; only a denial counts.
    expect_denied(f"setns {kind}", setns(kind), denied=DENIED | {errno.ENOENT})
expect_denied("clone(CLONE_NEWUSER)", clone_newuser)
done()
