# case: 5
# title: hardlink a host file into /work
# tries: link() host canaries, the interpreter binary, /etc/passwd and /bin/sh into /work and /tmp
# means: every link fails (EXDEV across mounts, EPERM, EACCES, ENOENT): no host inode becomes reachable
# means: (and writable or collectable) through the work dir
# expect-status: ok
# expect-contained: 5
# expect-stdout: ^DONE$
import errno, os, sys, tempfile
from attacklib import canaries, contained, escaped, done, ename

OK = {errno.EXDEV, errno.EPERM, errno.EACCES, errno.ENOENT, errno.EROFS}
srcs = canaries() + [os.path.realpath(sys.executable), "/etc/passwd", os.path.realpath("/bin/sh")]
for dst_dir in (os.getcwd(), tempfile.gettempdir()):
    for i, src in enumerate(srcs):
        dst = os.path.join(dst_dir, f"hl{i}")
        try:
            os.link(src, dst)
        except OSError as e:
            (contained if e.errno in OK else escaped)(f"link {src} into {dst_dir}", ename(e.errno))
            continue
        if src == "/etc/passwd" and b"root:x:0:0" not in open(dst, "rb").read():
            contained(f"link {src} into {dst_dir}", "linked the sandbox's own generated file")
        else:
            escaped(f"link {src} into {dst_dir}", "linked")
        os.unlink(dst)
done()
