# case: 4
# title: a symlink in /work pointing outside, written through
# tries: symlink host canaries, /etc/passwd and /usr/bin/env into /work, write through the links and
# tries: leave them for the supervisor's file collection (collect: *)
# means: every write through a link fails; the host targets are untouched (canaries compared) and the
# means: collected files never include a host file's content (links are not followed)
# expect-status: ok
# expect-contained: 3
# expect-stdout: ^DONE$
# collect: *
import errno, os
from attacklib import canaries, contained, escaped, done, ename

OK = {errno.ENOENT, errno.EACCES, errno.EPERM, errno.EROFS, errno.ELOOP}
for i, target in enumerate(canaries() + ["/etc/passwd", "/usr/bin/env"]):
    link = f"link{i}"
    os.symlink(target, link)
    try:
        with open(link, "a") as f:
            f.write("ESCAPED: written through a symlink\n")
    except OSError as e:
        (contained if e.errno in OK else escaped)(f"write through {link} -> {target}", ename(e.errno))
        continue
    escaped(f"write through {link} -> {target}", "written")
done()
