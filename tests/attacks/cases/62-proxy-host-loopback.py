# case: 62
# title: network allowlist: the host's own loopback services
# tries: with an allowlist that even names 127.0.0.0/8 and [::1] on every port (the operator's ceiling permits
# tries: the rules): ask the proxy for the harness's listener on the host's 127.0.0.1:PORT, for the proxy's own
# tries: port, for [::1] and [::ffff:127.0.0.1]; connect to 127.0.0.1:PORT and the host's address directly
# means: the proxy refuses to dial loopback addresses the operator did not permit (listed or not), with its
# means: reason; direct connects reach nothing of the host; the harness's listener accepts nothing
# network: allow:hosta.test:80,127.0.0.0/8:*,[::1]:*
# expect-status: ok
# expect-contained: 8
# expect-network-refused: 6
# expect-stdout: ^DONE$
import errno, os, socket
from attacklib import done
from netlib import GATEWAY, NO_ROUTE, allowed_works, connect_via_proxy, direct, get_via_proxy

port = int(os.environ["SANDRUN_ATTACK_TCP_PORT"])
if allowed_works():
    for target in (f"127.0.0.1:{port}", "127.0.0.1:3128", f"[::1]:{port}", f"[::ffff:127.0.0.1]:{port}"):
        connect_via_proxy(f"CONNECT {target}", target)
    get_via_proxy(f"GET http://127.0.0.1:{port}/", f"http://127.0.0.1:{port}/")
    get_via_proxy("GET http://127.0.0.2/", "http://127.0.0.2/")
    # The sandbox's own loopback has nothing there (ECONNREFUSED) or is
    # denied (Landlock: EACCES); the host's never answers.
    direct(f"direct tcp 127.0.0.1:{port}", socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", port),
           ok_errnos=NO_ROUTE | {errno.ECONNREFUSED})
    direct(f"direct tcp {GATEWAY}:{port}", socket.AF_INET, socket.SOCK_STREAM, (GATEWAY, port))
done()
