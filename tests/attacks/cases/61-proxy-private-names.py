# case: 61
# title: network allowlist: allowed names that resolve to private or loopback addresses
# tries: the allowlist names private.test (resolving to the host's own address on A's link), loop.test
# tries: (127.0.0.1) and loop6.test (::1), on every port: reach them through the proxy by CONNECT and plain HTTP
# means: the proxy resolves them itself and refuses to dial addresses the operator did not permit (the check is
# means: on the address dialled: no DNS rebinding into the host), with its reason, and records it
# network: allow:hosta.test:80,private.test:*,loop.test:*,loop6.test:*
# expect-status: ok
# expect-contained: 6
# expect-network-refused: 6
# expect-stdout: ^DONE$
import os
from attacklib import done
from netlib import allowed_works, connect_via_proxy, get_via_proxy

port = int(os.environ["SANDRUN_ATTACK_TCP_PORT"])
if allowed_works():
    for name in ("private.test", "loop.test", "loop6.test"):
        connect_via_proxy(f"CONNECT {name}:{port}", f"{name}:{port}")
        get_via_proxy(f"GET http://{name}/hello", f"http://{name}/hello")
done()
