# case: 40
# title: TCP to a server on the host's loopback
# tries: connect to 127.0.0.1:PORT where the harness listens (and answers with a banner), over IPv4 and
# tries: IPv4-mapped IPv6
# means: unreachable (ECONNREFUSED on the sandbox's own loopback, or denied); the harness also checks its
# means: listener accepted nothing
# expect-status: ok
# expect-contained: 2
# expect-stdout: ^DONE$
import os, socket
from attacklib import contained, escaped, done, ename

port = int(os.environ["SANDRUN_ATTACK_TCP_PORT"])
for name, fam, addr in (("127.0.0.1", socket.AF_INET, ("127.0.0.1", port)), ("::ffff:127.0.0.1", socket.AF_INET6, ("::ffff:127.0.0.1", port))):
    try:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(3)
        s.connect(addr)
        escaped(f"connect {name}:{port}", f"got {s.recv(100)!r}")
        s.close()
    except socket.timeout:
        contained(f"connect {name}:{port}", "timed out")
    except OSError as e:
        contained(f"connect {name}:{port}", ename(e.errno))
done()
