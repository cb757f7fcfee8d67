# case: 28
# title: fork bomb
# tries: first fork up to 400 children that each sit still (a bounded probe of the pids cap); if the cap
# tries: holds, the classic: every process forks in a loop forever, until the run is killed
# means: forking fails with EAGAIN near the processes limit (32 here), the classic bomb ends at the
# means: wall limit with the whole tree gone afterwards (the harness looks for leftovers) and the host fine
# expect-status: timeout cpu_limit
# expect-contained: 1
# expect-stdout: ^CONTAINED pids cap
# limits: processes=32 wall=4s
# heavy: yes
import errno, os, signal
from attacklib import contained, escaped, ename

kids, stopped = [], None
while len(kids) < 400:
    try:
        pid = os.fork()
    except OSError as e:
        stopped = e.errno
        break
    if pid == 0:
        signal.alarm(30)  # a safety net on weak tiers: gone after 30 s whatever happens
        signal.pause()
        os._exit(0)
    kids.append(pid)
for k in kids:
    os.kill(k, signal.SIGKILL)
for k in kids:
    os.waitpid(k, 0)
if stopped == errno.EAGAIN and len(kids) < 100:
    contained("pids cap", f"fork failed with EAGAIN after {len(kids)} children")
    while True:  # the classic
        try:
            os.fork()
        except OSError:
            pass
escaped("pids cap", f"forked {len(kids)} children, stopped by {ename(stopped) if stopped else 'nothing'}; not running the classic bomb")
