# case: 56
# title: network allowlist: a disallowed port of the allowed host
# tries: with only hosta.test:443 allowed: CONNECT to A on 22, 80, 8443 and 0, plain-HTTP requests to
# tries: http://hosta.test/ and http://hosta.test:8080/, and a port smuggled into the name ("hosta.test:443:22")
# means: the HTTPS fetch works; every other port is refused by the proxy (403 or 400 with its reason) and recorded
# network: allow:hosta.test:443
# expect-status: ok
# expect-contained: 7
# expect-network-refused: 5
# expect-stdout: ^DONE$
from attacklib import done
from netlib import allowed_works, connect_via_proxy, get_via_proxy

if allowed_works("https://hosta.test/hello"):
    for port in (22, 80, 8443, 0):
        connect_via_proxy(f"CONNECT hosta.test:{port}", f"hosta.test:{port}")
    get_via_proxy("GET http://hosta.test/hello (port 80)", "http://hosta.test/hello")
    get_via_proxy("GET http://hosta.test:8080/hello", "http://hosta.test:8080/hello")
    connect_via_proxy("CONNECT hosta.test:443:22", "hosta.test:443:22")
done()
