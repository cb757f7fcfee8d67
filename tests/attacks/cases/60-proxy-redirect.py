# case: 60
# title: network allowlist: a redirect to a disallowed destination
# tries: with only host A allowed: fetch A's /redirect pointing at hostb.test (http and https), at the host's
# tries: loopback listener (http://127.0.0.1:PORT/), at loop.test and at the host's own address on A's link
# means: the client follows each redirect through the proxy, which checks the new destination: every one is
# means: refused (an HTTP error, never the target's answer), recorded, and the harness's listener sees nothing
# network: allow:hosta.test:80,hosta.test:443
# expect-status: ok
# expect-contained: 5
# expect-network-refused: 5
# expect-stdout: ^DONE$
import os, urllib.parse
from attacklib import contained, escaped, done
from netlib import GATEWAY, allowed_works, fetch

port = int(os.environ["SANDRUN_ATTACK_TCP_PORT"])
if allowed_works():
    for target in ("http://hostb.test/hello", "https://hostb.test/hello", f"http://127.0.0.1:{port}/",
                   "http://loop.test/hello", f"http://{GATEWAY}/hello"):
        url = "http://hosta.test/redirect?to=" + urllib.parse.quote(target, safe="")
        try:
            status, body = fetch(url)
        except OSError as e:
            contained(f"redirect to {target}", f"{type(e).__name__}: {str(e)[:100]}")
            continue
        if status in (400, 403) and b"sandrun network policy" in body:
            contained(f"redirect to {target}", f"{status}: {body[:100]!r}")
        else:
            escaped(f"redirect to {target}", f"status {status}: {body[:80]!r}")
done()
