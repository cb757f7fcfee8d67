# case: 49
# title: two sandboxes at once try to talk
# tries: two runs start together (roles a and b, a shared start time T0 from the harness). Each holds a
# tries: flock and a POSIX read lock on a runtime file both see (a: the os module's source, b: the
# tries: interpreter) and reads it every 10 ms, watches the peer's file with inotify, creates a SysV
# tries: shared memory segment and message queue with a known key and listens on a known abstract unix
# tries: socket; two seconds later each probes the other's: inotify events, flock LOCK_NB, F_GETLK, shmget/msgget,
# tries: connect; and
# tries: each sends signal 0 to every pid number that is not one of its own namespace's tasks
# means: no channel: the peer's flock is not seen, its IPC keys do not exist, its socket refuses, and no
# means: pid outside its own namespace answers a signal
# expect-status: ok
# expect-contained: 8
# expect-stdout: ^DONE$
# pair: yes
import ctypes, errno, fcntl, os, socket, struct, sys, time
from attacklib import broken, contained, escaped, done, ename, libc, visible_pids

role = os.environ["SANDRUN_ATTACK_ROLE"]
peer = "b" if role == "a" else "a"
t0 = float(os.environ["SANDRUN_ATTACK_T0"])
tok = os.environ["SANDRUN_ATTACK_PAIR"]
files = {"a": os.__file__, "b": os.path.realpath(sys.executable)}
keys = {"a": 0x53524E49, "b": 0x53524E4A}
IPC_CREAT, IPC_RMID = 0o1000, 0

def until(t):
    while time.time() < t:
        time.sleep(min(0.05, max(0.0, t - time.time())))

until(t0)
# Set up this role's channels.
lockf = open(files[role], "rb")
try:
    fcntl.flock(lockf, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError as e:
    contained(f"flock {files[role]}", f"cannot even lock: {ename(e.errno)}")
# A POSIX record lock: a read lock needs only a read-only descriptor.
try:
    fcntl.lockf(lockf, fcntl.LOCK_SH | fcntl.LOCK_NB, 1, 0)
except OSError as e:
    contained(f"fcntl read lock {files[role]}", f"cannot even lock: {ename(e.errno)}")
libc.shmget.restype = ctypes.c_int
shm = libc.shmget(keys[role], 4096, IPC_CREAT | 0o600)
msq = libc.msgget(keys[role], IPC_CREAT | 0o600)
# Watch the peer's file for opens and reads (inotify is per inode, and
# the runtime files are the same inodes in every sandbox).
libc.inotify_init1.restype = ctypes.c_int
ino = libc.inotify_init1(0o4000)  # IN_NONBLOCK
watch = -1
if ino >= 0:
    watch = libc.inotify_add_watch(ino, files[peer].encode(), 0x20 | 0x1)  # IN_OPEN | IN_ACCESS
if ino < 0 or watch < 0:
    contained(f"inotify watch on {files[peer]}", f"refused: {ename(ctypes.get_errno())}")
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    srv.bind(f"\0sandrun-attack-pair-{tok}-{role}")
    srv.listen(1)
except OSError as e:
    contained("abstract listen", ename(e.errno))

# Signal through the peer's watch: read its own file, often, through the
# descriptor that holds the locks (closing any descriptor of a file drops
# the process's POSIX locks on it).
while time.time() < t0 + 2:
    os.pread(lockf.fileno(), 16, 0)
    time.sleep(0.01)
until(t0 + 2)
if time.time() > t0 + 3:
    broken("timing", "started too late to probe the peer while it holds its channels")
# Probe the peer's.
with open(files[peer], "rb") as f:
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        contained(f"peer's flock on {files[peer]}", "not seen")
        fcntl.flock(f, fcntl.LOCK_UN)
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            escaped(f"peer's flock on {files[peer]}", "held by the other sandbox: a channel")
        else:
            contained(f"peer's flock on {files[peer]}", ename(e.errno))
if watch >= 0:
    try:
        seen = len(os.read(ino, 65536))
    except BlockingIOError:
        seen = 0
    if seen:
        escaped(f"inotify on {files[peer]}", f"{seen} bytes of events: another sandbox's (or the host's) reads of the file are visible")
    else:
        contained(f"inotify on {files[peer]}", "no events")
# F_GETLK asks whether a write lock on the peer's file would conflict: a
# conflict is the peer's read lock, seen across sandboxes.
with open(files[peer], "rb") as f:
    fl = struct.pack("hhqqi4x", fcntl.F_WRLCK, 0, 0, 1, 0)
    try:
        got = fcntl.fcntl(f, fcntl.F_GETLK, fl)
        typ = struct.unpack("hhqqi4x", got)[0]
        if typ == fcntl.F_UNLCK:
            contained(f"peer's fcntl lock on {files[peer]}", "not seen")
        else:
            escaped(f"peer's fcntl lock on {files[peer]}", "held by the other sandbox: a channel")
    except OSError as e:
        contained(f"peer's fcntl lock on {files[peer]}", ename(e.errno))
(escaped if libc.shmget(keys[peer], 0, 0) >= 0 else contained)("peer's SysV shm", "key visible" if libc.shmget(keys[peer], 0, 0) >= 0 else "key absent")
(escaped if libc.msgget(keys[peer], 0) >= 0 else contained)("peer's SysV msg queue", "key visible" if libc.msgget(keys[peer], 0) >= 0 else "key absent")
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    c.settimeout(2)
    c.connect(f"\0sandrun-attack-pair-{tok}-{peer}")
    escaped("peer's abstract socket", "connected")
except OSError as e:
    contained("peer's abstract socket", ename(e.errno) if e.errno else str(e))
c.close()
# Its own pid namespace's tasks: visible processes and their threads (the
# sandbox's init may be multi-threaded; threads are not listed in /proc).
mine = set(visible_pids())
for p in list(mine):
    try:
        mine |= {int(t) for t in os.listdir(f"/proc/{p}/task")}
    except OSError:
        pass
try:
    pid_max = min(int(open("/proc/sys/kernel/pid_max").read()), 65536)
except OSError:
    pid_max = 32768
foreign = []
for p in range(1, pid_max + 1):
    if p in mine:
        continue
    try:
        os.kill(p, 0)
        foreign.append(p)
    except ProcessLookupError:
        pass
    except PermissionError:
        foreign.append(p)
(escaped if foreign else contained)("signal other pids", f"{len(foreign)} foreign pids answer, e.g. {foreign[:5]}" if foreign else "none answers")

until(t0 + 4)
if shm >= 0:
    libc.shmctl(shm, IPC_RMID, None)
if msq >= 0:
    libc.msgctl(msq, IPC_RMID, None)
srv.close()
lockf.close()
done()
