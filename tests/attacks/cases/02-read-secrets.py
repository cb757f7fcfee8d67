# case: 2
# title: read /etc/shadow, /root/.ssh and host canary files
# tries: read /etc/shadow and /etc/gshadow, list and read /root/.ssh, read every host canary
# means: none of them is visible (ENOENT) or readable (EACCES/EPERM); nothing of their content reaches
# means: the output (the harness also searches the result for the canaries' tokens)
# expect-status: ok
# expect-contained: 4
# expect-stdout: ^DONE$
import errno, os
from attacklib import canaries, contained, escaped, done, ename

OK = {errno.ENOENT, errno.EACCES, errno.EPERM, errno.ENOTDIR}

def try_read(p):
    try:
        with open(p, "rb") as f:
            data = f.read(200)
    except OSError as e:
        (contained if e.errno in OK else escaped)(f"read {p}", ename(e.errno))
        return
    escaped(f"read {p}", f"read {len(data)} bytes: {data[:60]!r}")

for p in ["/etc/shadow", "/etc/gshadow"] + canaries():
    try_read(p)
try:
    names = os.listdir("/root/.ssh")
    escaped("list /root/.ssh", f"{names[:5]}")
    for n in names[:3]:
        try_read(os.path.join("/root/.ssh", n))
except OSError as e:
    (contained if e.errno in OK else escaped)("list /root/.ssh", ename(e.errno))
done()
