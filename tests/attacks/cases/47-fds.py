# case: 47
# title: inherited file descriptors
# tries: probe descriptors 3..4095 with fstat; list /proc/self/fd; read from any extra descriptor (the
# tries: harness holds a canary open without O_CLOEXEC)
# means: only 0, 1 and 2 are open
# expect-status: ok
# expect-contained: 1
# expect-stdout: ^DONE$
import os
from attacklib import contained, escaped, done

extra = []
for fd in range(3, 4096):
    try:
        os.fstat(fd)
    except OSError:
        continue
    extra.append(fd)
for fd in extra:
    try:
        where = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        where = "?"
    try:
        data = os.pread(fd, 200, 0)
    except OSError:
        data = b""
    escaped(f"fd {fd} open", f"{where} {data[:80]!r}")
if not extra:
    contained("only fds 0-2", f"/proc/self/fd lists {sorted(os.listdir('/proc/self/fd'))} (one is the listing's own)")
done()
