# case: 1
# title: write to the host's $HOME, /etc, /usr
# tries: create a file in /root, /etc, /usr, /usr/bin, /usr/lib and next to the interpreter; append to
# tries: every host canary file
# means: every write fails (EROFS, EACCES, EPERM or ENOENT: the path is read-only or not there)
# means: and the host's files are unchanged (the harness compares the canaries)
# expect-status: ok
# expect-contained: 7
# expect-stdout: ^DONE$
import errno, os, sys
from attacklib import PREFIX, canaries, contained, escaped, done, ename

OK = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOENT}
dirs = ["/root", "/etc", "/usr", "/usr/bin", "/usr/lib", os.path.dirname(os.path.realpath(sys.executable)), "/"]
for d in dirs:
    p = os.path.join(d, PREFIX + "probe-01")
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as e:
        (contained if e.errno in OK else escaped)(f"create in {d}", ename(e.errno))
        continue
    os.close(fd)
    os.unlink(p)
    escaped(f"create in {d}", "created (and removed) " + p)

for c in canaries():
    # No O_CREAT: a file of that name in the sandbox's own private /tmp is
    # not the host's canary.
    try:
        fd = os.open(c, os.O_WRONLY | os.O_APPEND)
    except OSError as e:
        (contained if e.errno in OK else escaped)(f"append to canary {c}", ename(e.errno))
        continue
    os.write(fd, b"ESCAPED: appended by the sandbox\n")
    os.close(fd)
    escaped(f"append to canary {c}", "written")
done()
