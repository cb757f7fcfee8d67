# case: 6
# title: mknod a character or block device
# tries: mknod /dev/mem-like (1,1), null (1,3) and a disk (8,0) in /work and /tmp
# means: every mknod fails with EPERM (no CAP_MKNOD; the jail's tmpfs is nodev)
# expect-status: ok
# expect-contained: 6
# expect-stdout: ^DONE$
import errno, os, stat, tempfile
from attacklib import contained, escaped, done, ename

for d in (os.getcwd(), tempfile.gettempdir()):
    for kind, dev, name in ((stat.S_IFCHR, (1, 1), "mem"), (stat.S_IFCHR, (1, 3), "null"), (stat.S_IFBLK, (8, 0), "sda")):
        p = os.path.join(d, "dev-" + name)
        try:
            os.mknod(p, kind | 0o600, os.makedev(*dev))
        except OSError as e:
            (contained if e.errno in (errno.EPERM, errno.EACCES, errno.EROFS) else escaped)(f"mknod {name} in {d}", ename(e.errno))
            continue
        os.unlink(p)
        escaped(f"mknod {name} in {d}", "created (and removed)")
done()
