# case: 8
# title: fill the disk
# tries: first fill /work with 4 MiB files (each under the file-size limit) up to 256 MiB; then the
# tries: classic: write "I love beans\n" * 2**24 (208 MiB) into one file, uncaught
# means: the many-files fill stops at the work dir's size cap (ENOSPC/EDQUOT, well under 256 MiB); the
# means: classic write is stopped by the file-size limit (status file_size_limit); the host disk is
# means: untouched and the next run starts normally (the harness checks both)
# expect-status: file_size_limit
# expect-contained: 1
# expect-stdout: ^CONTAINED work dir size cap
# limits: file_size=16MiB work_dir=32MiB memory=512MiB wall=30s
# heavy: yes
import errno, os
from attacklib import contained, escaped, ename

chunk = b"x" * (4 << 20)
written, stopped = 0, None
names = []
while written < (256 << 20):
    name = f"fill{len(names)}"
    names.append(name)
    try:
        with open(name, "wb") as f:
            f.write(chunk)
        written += len(chunk)
    except OSError as e:
        stopped = e.errno
        break
if stopped in (errno.ENOSPC, errno.EDQUOT) and written <= (48 << 20):
    contained("work dir size cap", f"{ename(stopped)} after {written >> 20} MiB")
else:
    escaped("work dir size cap", f"wrote {written >> 20} MiB, stopped by {ename(stopped) if stopped else 'nothing'}")
for n in names:
    try:
        os.unlink(n)
    except OSError:
        pass
open("beans.txt", "w").write("I love beans\n" * 2**24)
print("ESCAPED file size limit: wrote the whole classic file")
