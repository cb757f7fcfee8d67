# case: 38
# title: zombies
# tries: a child forks 50 grandchildren that exit at once, then exits without waiting for them, so they
# tries: become orphaned zombies; the program also leaves 20 of its own children unreaped and exits
# means: the orphans are reaped by the sandbox's init within a second, and no zombie is left after the
# means: run (the harness checks)
# expect-status: ok
# expect-contained: 1
# expect-stdout: ^DONE$
import os, time
from attacklib import contained, escaped, done

r, w = os.pipe()
mid = os.fork()
if mid == 0:
    os.close(r)
    pids = []
    for _ in range(50):
        p = os.fork()
        if p == 0:
            os._exit(0)
        pids.append(p)
    os.write(w, " ".join(map(str, pids)).encode())
    os._exit(0)
os.close(w)
grand = [int(x) for x in os.read(r, 65536).split()]
os.waitpid(mid, 0)
left = grand
for _ in range(20):
    time.sleep(0.1)
    left = []
    for p in grand:
        try:
            if open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] == "Z":
                left.append(p)
        except OSError:
            pass
    if not left:
        break
(escaped if left else contained)("orphaned zombies reaped", f"{len(left)} of 50 still zombies after 2 s" if left else "all 50 reaped")
for _ in range(20):
    if os.fork() == 0:
        os._exit(0)
done()
