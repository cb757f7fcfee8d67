# case: 30
# title: memory through /dev/shm and tmpfs
# tries: write 8 MiB files into /dev/shm, then /tmp (sized larger than the memory limit), up to 200 MiB,
# tries: holding no memory in the process itself
# means: tmpfs pages are charged to the run: it ends with memory_limit, or the tmpfs caps stop the
# means: writes (ENOSPC) before they add up to more than the memory limit
# expect-status: memory_limit ok
# expect-contained: 0
# limits: memory=64MiB work_dir=256MiB wall=20s
# heavy: yes
import errno, os
from attacklib import PREFIX, contained, escaped, ename

total, made, last = 0, [], None
chunk = b"\x02" * (8 << 20)
for d in ("/dev/shm", "/tmp"):
    i = 0
    while total < (200 << 20):
        p = os.path.join(d, f"{PREFIX}shm-{os.getpid()}-{i}")
        i += 1
        try:
            with open(p, "wb") as f:
                made.append(p)
                f.write(chunk)
            total += len(chunk)
        except OSError as e:
            last = e.errno
            break
for p in made:
    try:
        os.unlink(p)
    except OSError:
        pass
if total >= (200 << 20):
    escaped("tmpfs charged to the run", f"wrote {total >> 20} MiB into tmpfs under a 64 MiB limit")
elif total <= (96 << 20):
    contained("tmpfs charged to the run", f"tmpfs caps stopped it at {total >> 20} MiB ({ename(last)})")
else:
    escaped("tmpfs charged to the run", f"wrote {total >> 20} MiB before {ename(last)}: more than the memory limit")
