# case: 39
# title: TCP and UDP to an IP literal
# tries: inside a private network namespace only (otherwise it refuses, sending nothing off the host):
# tries: TCP connect to 192.0.2.1:80 and [2001:db8::1]:80 (documentation addresses), UDP sendto 192.0.2.1:53
# means: every attempt fails at once (ENETUNREACH, EACCES, EPERM, EAFNOSUPPORT): no route and no
# means: socket out; a connect that hangs until its timeout means a packet left, and counts as escaped
# expect-status: ok
# expect-contained: 3
# expect-stdout: ^DONE$
import errno, socket
from attacklib import contained, escaped, done, ename, guard

def attempt(name, fam, typ, addr):
    try:
        s = socket.socket(fam, typ)
    except OSError as e:
        contained(name, f"socket(): {ename(e.errno)}")
        return
    s.settimeout(3)
    try:
        if typ == socket.SOCK_STREAM:
            s.connect(addr)
        else:
            s.sendto(b"x", addr)
        escaped(name, "connected / sent")
    except socket.timeout:
        escaped(name, "timed out: the packet left the sandbox")
    except OSError as e:
        contained(name, ename(e.errno))
    finally:
        s.close()

if guard("net", "tcp to an IP literal"):
    attempt("tcp 192.0.2.1:80", socket.AF_INET, socket.SOCK_STREAM, ("192.0.2.1", 80))
    attempt("tcp [2001:db8::1]:80", socket.AF_INET6, socket.SOCK_STREAM, ("2001:db8::1", 80))
    attempt("udp 192.0.2.1:53", socket.AF_INET, socket.SOCK_DGRAM, ("192.0.2.1", 53))
done()
