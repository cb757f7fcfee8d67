# case: 33
# title: open files until EMFILE
# tries: open /dev/null (or the case's own file) until failure, up to 100000; raise RLIMIT_NOFILE's hard limit
# means: EMFILE at the open-files limit (64 here) and the hard limit cannot be raised
# expect-status: ok
# expect-contained: 2
# expect-stdout: ^DONE$
# limits: open_files=64
import errno, os, resource
from attacklib import contained, escaped, done, ename

target = "/dev/null" if os.path.exists("/dev/null") else __file__
fds, stopped = [], None
while len(fds) < 100000:
    try:
        fds.append(os.open(target, os.O_RDONLY))
    except OSError as e:
        stopped = e.errno
        break
if stopped == errno.EMFILE and len(fds) <= 64:
    contained("EMFILE", f"after {len(fds)} descriptors")
else:
    escaped("EMFILE", f"opened {len(fds)}, stopped by {ename(stopped) if stopped else 'nothing'}")
for fd in fds:
    os.close(fd)
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
try:
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard * 4, hard * 4))
    escaped("raise RLIMIT_NOFILE", f"raised from {hard} to {hard * 4}")
except (OSError, ValueError) as e:
    contained("raise RLIMIT_NOFILE", f"{type(e).__name__}")
done()
