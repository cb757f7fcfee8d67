# case: 55
# title: network allowlist: DNS (UDP and TCP to port 53, getaddrinfo, through the proxy)
# tries: with host A allowed: resolve names in the sandbox, send a DNS query over UDP to A's address and to
# tries: the nameservers of /etc/resolv.conf, connect to port 53 over TCP directly, and CONNECT A:53 through the proxy
# means: no resolution inside (the proxy resolves for the program), no datagram and no TCP connect leave,
# means: and the proxy refuses port 53 (not in the allowlist)
# network: allow:hosta.test:80
# expect-status: ok
# expect-contained: 5
# expect-network-refused: 1
# expect-stdout: ^DONE$
import socket, struct
from attacklib import contained, escaped, done, guard
from netlib import HOSTA, allowed_works, connect_via_proxy, direct

# A DNS query for hosta.test (type A), as a resolver sends it.
query = struct.pack(">HHHHHH", 0x5a5a, 0x0100, 1, 0, 0, 0) + b"".join(
    bytes([len(p)]) + p.encode() for p in "hosta.test".split(".")) + b"\x00" + struct.pack(">HH", 1, 1)

if allowed_works():
    if guard("net", "dns through the system resolver"):
        for name in ("hosta.test", "example.com"):
            try:
                r = socket.getaddrinfo(name, 80)
                escaped(f"resolve {name}", f"{r[0][4]}")
            except OSError as e:
                contained(f"resolve {name}", f"{type(e).__name__}: {e}")
    servers = []
    try:
        for ln in open("/etc/resolv.conf"):
            f = ln.split()
            if len(f) >= 2 and f[0] == "nameserver" and ":" not in f[1]:
                servers.append(f[1])
    except OSError:
        pass
    for srv in [HOSTA] + servers[:1]:
        direct(f"udp query to {srv}:53", socket.AF_INET, socket.SOCK_DGRAM, (srv, 53), send=query)
    direct(f"tcp to {HOSTA}:53", socket.AF_INET, socket.SOCK_STREAM, (HOSTA, 53))
    connect_via_proxy("CONNECT hosta.test:53", "hosta.test:53")
done()
