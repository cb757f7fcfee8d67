# case: 65
# title: network allowlist: many connections
# tries: with the connection cap at 4: fetch from the allowed host 12 times in a row, then open 80
# tries: connections to the proxy at once and CONNECT on each
# means: the fifth connection is refused (429) and the run ends with status network_limit (limit_hit connections)
# network: allow:hosta.test:80,hosta.test:443
# network-limits: connections=4
# expect-status: network_limit
# expect-contained: 0
# expect-network-limit: connections
import socket
from attacklib import escaped
from netlib import allowed_works, fetch, proxy_addr

if allowed_works():
    ok = 1
    for i in range(11):
        try:
            status, _ = fetch("http://hosta.test/hello")
            ok += status == 200
        except Exception:
            pass
    if ok > 4:
        escaped("sequential fetches", f"{ok} fetches got through under a cap of 4")
    socks = []
    for i in range(80):
        try:
            s = socket.create_connection(proxy_addr(), timeout=5)
            s.sendall(b"CONNECT hosta.test:443 HTTP/1.1\r\nHost: hosta.test:443\r\n\r\n")
            socks.append(s)
        except OSError:
            pass
    escaped("connections", f"the program is still running after {ok} fetches and {len(socks)} more connections under a cap of 4")
