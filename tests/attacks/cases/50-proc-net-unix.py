# case: 50
# title: two sandboxes at once read each other's unix sockets in /proc/net/unix
# tries: two runs start together (roles a and b, a shared start time T0 from the harness); each binds
# tries: an abstract unix socket and a socket file in /tmp with names carrying the run's role and a
# tries: token, listens, then two seconds later reads /proc/net/unix (the table of every unix socket
# tries: of its network namespace: abstract names, socket paths, inode numbers) looking for the
# tries: peer's names; it also checks that it sees its own, so an unreadable or empty table is told apart
# means: the peer's sockets are not listed: each run has its own network namespace, so neither the
# means: peer's abstract name nor its socket path leaks (a leak is also a covert channel: names are
# means: chosen by the program)
# expect-status: ok
# expect-contained: 2
# expect-stdout: ^DONE$
# pair: yes
import os, socket, time
from attacklib import broken, contained, escaped, done, ename

role = os.environ["SANDRUN_ATTACK_ROLE"]
peer = "b" if role == "a" else "a"
t0 = float(os.environ["SANDRUN_ATTACK_T0"])
tok = os.environ["SANDRUN_ATTACK_PAIR"]


def names(r):
    return f"sandrun-attack-netunix-{tok}-{r}", f"/tmp/sandrun-attack-netunix-{tok}-{r}.sock"


def until(t):
    while time.time() < t:
        time.sleep(min(0.05, max(0.0, t - time.time())))


until(t0)
abstract, path = names(role)
held = []
for addr in ("\0" + abstract, path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind(addr)
        s.listen(1)
        held.append(s)
    except OSError as e:
        broken(f"bind {addr!r}", ename(e.errno))
until(t0 + 2)
if time.time() > t0 + 3:
    broken("timing", "started too late to look while the peer holds its sockets")
try:
    table = open("/proc/net/unix").read()
except OSError as e:
    contained("read /proc/net/unix", f"unreadable: {ename(e.errno)}")
    contained("peer's socket path in /proc/net/unix", "table unreadable")
else:
    if "@" + abstract not in table or path not in table:
        # Its own sockets must be listed, or absence of the peer's proves nothing.
        broken("own sockets in /proc/net/unix", "not listed: the check cannot tell")
    pa, pp = names(peer)
    (escaped if "@" + pa in table else contained)(
        "peer's abstract socket in /proc/net/unix", "listed: another sandbox's socket names are visible" if "@" + pa in table else "not listed")
    (escaped if pp in table else contained)(
        "peer's socket path in /proc/net/unix", "listed: another sandbox's socket paths are visible" if pp in table else "not listed")
until(t0 + 4)
for s in held:
    s.close()
done()
