# case: 67
# title: leave files in any world-writable directory the sandbox can reach, for the next run
# tries: walk what the sandbox sees of the filesystem (from /, six levels deep; not /proc, /sys or the
# tries: system trees /usr, /lib*, /bin, /sbin, /boot, where no host keeps scratch dirs) for
# tries: directories anyone may write: the usual scratch dirs and the others a host has (a cache of
# tries: root filesystems with their own /tmp, an application's spool...). In each, look for a marker
# tries: an earlier run left, then leave one; the harness runs the case twice in a row. A run that
# tries: finds markers removes them and leaves none, so nothing stays on the host.
# means: no marker of the first run is found by the second: every writable directory the program can
# means: reach is its own and goes with it (a found marker means files outlive a run where the tier's
# means: cleanup does not look: a channel between runs and a way to plant files, e.g. into images)
# expect-status: ok
# expect-contained: 2
# expect-stdout: ^DONE$
# runs: 2
# limits: cpu=20s wall=60s
import os, stat
from attacklib import PREFIX, contained, escaped, done

MARK = PREFIX + "anywhere"
SKIP = ("/proc", "/sys", "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/boot")


def writable_dirs(top="/", depth=6):
    out = []
    stack = [(top, 0)]
    while stack:
        d, n = stack.pop()
        try:
            st = os.lstat(d)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            continue
        if st.st_mode & stat.S_IWOTH and os.access(d, os.W_OK | os.X_OK):
            out.append(d)
        if n >= depth:
            continue
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for name in names:
            p = os.path.join(d, name)
            if p in SKIP or name.startswith(PREFIX):
                continue
            stack.append((p, n + 1))
    return sorted(out)


dirs = writable_dirs()
found = []
for d in dirs:
    try:
        for name in os.listdir(d):
            if name.startswith(MARK):
                found.append(os.path.join(d, name))
    except OSError:
        pass
for p in found:
    try:
        os.remove(p)
    except OSError:
        pass
(escaped if found else contained)("markers of an earlier run", f"found {found}" if found else f"none in {len(dirs)} world-writable dirs")
if found:
    contained("leave markers", "not left: the earlier run's were found (and removed)")
else:
    left = 0
    for d in dirs:
        try:
            with open(os.path.join(d, f"{MARK}-{os.getpid()}"), "w") as f:
                f.write("left by a previous run\n")
            left += 1
        except OSError:
            pass
    contained("leave markers", f"{left} written (each must vanish with the run)")
done()
