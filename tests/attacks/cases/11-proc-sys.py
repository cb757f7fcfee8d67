# case: 11
# title: write /proc/sys and /proc/sysrq-trigger
# tries: open for writing /proc/sysrq-trigger, /proc/sys/kernel/core_pattern, /proc/sys/kernel/modprobe,
# tries: /proc/sys/kernel/hostname, /proc/sys/vm/drop_caches, /proc/sys/kernel/panic
# means: every open for writing fails (EROFS, EACCES, EPERM, ENOENT); nothing is ever written, so a
# means: weak tier is not harmed either
# expect-status: ok
# expect-contained: 6
# expect-stdout: ^DONE$
import errno, os
from attacklib import contained, escaped, done, ename

for p in ("/proc/sysrq-trigger", "/proc/sys/kernel/core_pattern", "/proc/sys/kernel/modprobe",
          "/proc/sys/kernel/hostname", "/proc/sys/vm/drop_caches", "/proc/sys/kernel/panic"):
    try:
        fd = os.open(p, os.O_WRONLY)
    except OSError as e:
        (contained if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOENT) else escaped)(f"open {p} for writing", ename(e.errno))
        continue
    os.close(fd)  # never write: opening it is the escape
    escaped(f"open {p} for writing", "opened")
done()
