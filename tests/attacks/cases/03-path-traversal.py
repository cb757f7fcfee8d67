# case: 3
# title: path traversal with ../ from /work
# tries: reach the host canaries and /etc/shadow through ../../.. from the work dir, through
# tries: /proc/self/cwd/../.., /proc/self/root and /proc/1/root
# means: every path stays inside the sandbox's view: the canaries cannot be opened by any route
# expect-status: ok
# expect-contained: 8
# expect-stdout: ^DONE$
import errno, os
from attacklib import canaries, contained, escaped, done, ename

OK = {errno.ENOENT, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.ELOOP}
up = "../" * 30
targets = [c.lstrip("/") for c in canaries()] + ["etc/shadow"]
routes = [up, "/proc/self/cwd/" + up, "/proc/self/root/", "/proc/1/root/"]
for r in routes:
    for t in targets:
        p = r + t
        try:
            with open(p, "rb") as f:
                data = f.read(200)
        except OSError as e:
            (contained if e.errno in OK else escaped)(f"open {p[:60]}", ename(e.errno))
            continue
        if t == "etc/shadow" and b"root:" not in data:
            contained(f"open {p[:60]}", "a sandbox-generated file, not the host's shadow")
            continue
        escaped(f"open {p[:60]}", f"read {data[:60]!r}")
# The top of the traversal must be the sandbox's own root.
if os.path.samestat(os.stat(up), os.stat("/")):
    contained("../ from the work dir", "stops at the sandbox root")
else:
    escaped("../ from the work dir", "reached a directory that is not /")
done()
