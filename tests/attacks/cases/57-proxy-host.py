# case: 57
# title: network allowlist: a host outside the allowlist
# tries: with only hosta.test allowed: reach hostb.test (CONNECT, plain HTTP, urllib), in upper case, with a
# tries: trailing dot, as a longer name ending in the allowed one (xhosta.test, hosta.test.hostb.test), and
# tries: through an absolute URL with userinfo (http://hosta.test@hostb.test/)
# means: host A works; every other name is refused by the proxy (403 with its reason) and recorded
# network: allow:hosta.test:80,hosta.test:443
# expect-status: ok
# expect-contained: 8
# expect-network-refused: 7
# expect-stdout: ^DONE$
from attacklib import contained, escaped, done
from netlib import allowed_works, connect_via_proxy, fetch, get_via_proxy

if allowed_works() and allowed_works("https://hosta.test/hello"):
    for target in ("hostb.test:443", "HOSTB.TEST:443", "hostb.test.:443", "xhosta.test:443", "hosta.test.hostb.test:443"):
        connect_via_proxy(f"CONNECT {target}", target)
    get_via_proxy("GET http://hostb.test/hello", "http://hostb.test/hello")
    get_via_proxy("GET http://hosta.test@hostb.test/hello", "http://hosta.test@hostb.test/hello", host_header="hostb.test")
    try:
        status, body = fetch("https://hostb.test/hello")
        escaped("urllib https://hostb.test", f"status {status} {body[:40]!r}")
    except OSError as e:
        contained("urllib https://hostb.test", f"{type(e).__name__}: {str(e)[:100]}")
done()
