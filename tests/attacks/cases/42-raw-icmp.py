# case: 42
# title: raw and ICMP sockets
# tries: create a raw ICMP socket, an unprivileged ICMP (ping) socket and a raw ICMPv6 socket; nothing is sent
# means: every socket() fails (EPERM, EACCES, EAFNOSUPPORT, EPROTONOSUPPORT)
# expect-status: ok
# expect-contained: 3
# expect-stdout: ^DONE$
import socket
from attacklib import contained, escaped, done, ename

for name, fam, typ, proto in (("raw icmp", socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
                              ("ping socket", socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP),
                              ("raw icmpv6", socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)):
    try:
        socket.socket(fam, typ, proto).close()
        escaped(name, "created")
    except OSError as e:
        contained(name, ename(e.errno))
done()
