# case: 10
# title: leave files in /tmp, /dev/shm, /var/tmp, /run/lock for the next run
# tries: look for marker files a previous run left in those dirs, then leave new ones; the harness runs
# tries: the case twice in a row
# means: neither run sees a marker of an earlier run: every run gets fresh, private temp dirs (a dir
# means: that does not exist or is not writable also contains the attack)
# expect-status: ok
# expect-contained: 8
# expect-stdout: ^DONE$
# runs: 2
import os
from attacklib import PREFIX, contained, escaped, done, ename

MARK = PREFIX + "persist"
for d in ("/tmp", "/dev/shm", "/var/tmp", "/run/lock"):
    try:
        old = [n for n in os.listdir(d) if n.startswith(MARK)]
    except OSError as e:
        contained(f"look in {d}", f"not listable: {ename(e.errno)}")
        old = []
    else:
        (escaped if old else contained)(f"look in {d}", f"found {old}" if old else "nothing from an earlier run")
    try:
        with open(os.path.join(d, f"{MARK}-{os.getpid()}"), "w") as f:
            f.write("left by a previous run\n")
        contained(f"leave a file in {d}", "written (must vanish with the run)")
    except OSError as e:
        contained(f"leave a file in {d}", f"not writable: {ename(e.errno)}")
done()
