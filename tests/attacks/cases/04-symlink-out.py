# case: 4
# title: a symlink in /work pointing outside, written through
# tries: symlink host canaries, /etc/passwd and /usr/bin/env into /work, append through the links (no
# tries: O_CREAT); create new files through links into /root, /etc, /var/tmp and /tmp; leave the links
# tries: for the supervisor's file collection (collect: *)
# means: every append through a link fails; the host targets are untouched (canaries compared), no file
# means: appears in the host's dirs (the harness looks for the probe names; a file made in the sandbox's
# means: own private /tmp is fine) and the collected files never include a host file's content
# expect-status: ok
# expect-contained: 3
# expect-stdout: ^DONE$
# collect: *
import errno, os
from attacklib import PREFIX, canaries, contained, escaped, done, ename, note

OK = {errno.ENOENT, errno.EACCES, errno.EPERM, errno.EROFS, errno.ELOOP}
for i, target in enumerate(canaries() + ["/etc/passwd", "/usr/bin/env"]):
    link = f"link{i}"
    os.symlink(target, link)
    try:
        fd = os.open(link, os.O_WRONLY | os.O_APPEND)
    except OSError as e:
        (contained if e.errno in OK else escaped)(f"write through {link} -> {target}", ename(e.errno))
        continue
    os.write(fd, b"ESCAPED: written through a symlink\n")
    os.close(fd)
    escaped(f"write through {link} -> {target}", "written")
for d in ("/root", "/etc", "/var/tmp", "/tmp"):
    link = "new-" + d.strip("/").replace("/", "-")
    os.symlink(f"{d}/{PREFIX}symlink-04", link)
    try:
        os.close(os.open(link, os.O_WRONLY | os.O_CREAT, 0o644))
        note(f"created {d}/{PREFIX}symlink-04 through a link: the harness checks it is not on the host")
    except OSError as e:
        contained(f"create through a link into {d}", ename(e.errno))
done()
