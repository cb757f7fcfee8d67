# case: 9
# title: exhaust inodes in /tmp
# tries: create empty files in /tmp (and then /work) until something stops it, up to 200000
# means: the tmpfs inode cap stops it with ENOSPC long before 200000 files
# expect-status: ok
# expect-contained: 2
# expect-stdout: ^DONE$
# limits: wall=40s memory=512MiB
# heavy: yes
import errno, os, tempfile
from attacklib import contained, escaped, done, ename

for d in (tempfile.gettempdir(), os.getcwd()):
    sub = os.path.join(d, "inodes")
    os.mkdir(sub)
    n, stopped = 0, None
    while n < 200000:
        try:
            os.close(os.open(os.path.join(sub, str(n)), os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as e:
            stopped = e.errno
            break
        n += 1
    if stopped in (errno.ENOSPC, errno.EDQUOT):
        contained(f"inode cap in {d}", f"{ename(stopped)} after {n} files")
    else:
        escaped(f"inode cap in {d}", f"created {n} files, stopped by {ename(stopped) if stopped else 'nothing'}")
    for i in range(n):
        os.unlink(os.path.join(sub, str(i)))
    os.rmdir(sub)
done()
