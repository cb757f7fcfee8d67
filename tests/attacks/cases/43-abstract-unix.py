# case: 43
# title: abstract unix socket of a host listener
# tries: connect to the harness's abstract unix socket (which answers with a banner), stream and seqpacket
# means: unreachable (ECONNREFUSED: abstract sockets belong to the network namespace, or denied by
# means: Landlock's scoping); the harness also checks its listener accepted nothing
# expect-status: ok
# expect-contained: 2
# expect-stdout: ^DONE$
import os, socket
from attacklib import contained, escaped, done, ename

name = "\0" + os.environ["SANDRUN_ATTACK_ABSTRACT"]
for typ in (socket.SOCK_STREAM, socket.SOCK_SEQPACKET):
    try:
        s = socket.socket(socket.AF_UNIX, typ)
        s.settimeout(3)
        s.connect(name)
        escaped(f"connect abstract ({typ.name})", f"got {s.recv(100)!r}")
        s.close()
    except OSError as e:
        contained(f"connect abstract ({typ.name})", ename(e.errno) if e.errno else str(e))
done()
