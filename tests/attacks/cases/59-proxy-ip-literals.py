# case: 59
# title: network allowlist: IP literals and IPv6 for a host allowed by name
# tries: with hosta.test allowed by name only: ask the proxy for A's address as a literal (dotted, IPv4-mapped
# tries: IPv6, NAT64, 6to4, decimal, octal and hex forms), for [::1] and [fe80::1%lo]; open IPv6 sockets inside
# tries: (TCP to ::1 and to A's mapped address, UDP)
# means: names never match literals: every literal is refused by the proxy (403/400) and recorded; IPv6 sockets
# means: are denied in the sandbox (EAFNOSUPPORT/EPERM, or no route)
# network: allow:hosta.test:80
# expect-status: ok
# expect-contained: 13
# expect-network-refused: 10
# expect-stdout: ^DONE$
import errno, ipaddress, socket
from attacklib import done
from netlib import HOSTA, NO_ROUTE, allowed_works, connect_via_proxy, direct, get_via_proxy

if allowed_works():
    a = ipaddress.IPv4Address(HOSTA)
    n = int(a)
    octets = str(a).split(".")
    forms = [
        str(a), f"[::ffff:{a}]", f"[64:ff9b::{a}]", "[2002:%02x%02x:%02x%02x::1]" % tuple(a.packed),
        str(n), ".".join("0%o" % int(o) for o in octets), "0x%08x" % n, "[::1]", "[fe80::1%25lo]",
    ]
    for f in forms:
        connect_via_proxy(f"CONNECT {f}:80", f"{f}:80")
    get_via_proxy(f"GET http://[::ffff:{a}]/hello", f"http://[::ffff:{a}]/hello")
    direct("tcp6 [::1]:80", socket.AF_INET6, socket.SOCK_STREAM, ("::1", 80),
           # ECONNREFUSED too: nothing listens on the sandbox's own ::1
           ok_errnos=NO_ROUTE | {errno.ECONNREFUSED})
    direct(f"tcp6 [::ffff:{a}]:80", socket.AF_INET6, socket.SOCK_STREAM, (f"::ffff:{a}", 80))
    direct("udp6 [::1]:53", socket.AF_INET6, socket.SOCK_DGRAM, ("::1", 53))
done()
