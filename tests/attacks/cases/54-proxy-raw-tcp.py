# case: 54
# title: network allowlist: raw TCP to the allowed host without the proxy
# tries: with host A allowed (through the proxy), connect straight to A's address on 80 and 443, to B's,
# tries: and to the host's own address on A's link, ignoring HTTP_PROXY
# means: the fetch through the proxy works; every direct connect fails at once (EACCES from Landlock,
# means: ENETUNREACH from the empty namespace): the proxy is the only way out, and it never saw them
# network: allow:hosta.test:80,hosta.test:443
# expect-status: ok
# expect-contained: 5
# expect-stdout: ^DONE$
import socket
from attacklib import done
from netlib import HOSTA, HOSTB, GATEWAY, allowed_works, direct

if allowed_works() and allowed_works("https://hosta.test/hello"):
    for name, addr in (("A:80", (HOSTA, 80)), ("A:443", (HOSTA, 443)), ("B:80", (HOSTB, 80)),
                       ("B:443", (HOSTB, 443)), ("host:22", (GATEWAY, 22))):
        direct(f"direct tcp {name} {addr[0]}", socket.AF_INET, socket.SOCK_STREAM, addr)
done()
