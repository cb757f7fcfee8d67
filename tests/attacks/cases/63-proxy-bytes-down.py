# case: 63
# title: network allowlist: download past bytes_down
# tries: with bytes_down capped at 256KiB: a small fetch, then 4 MiB over HTTPS from the allowed host, then
# tries: (if still alive) 4 MiB more over plain HTTP
# means: the proxy cuts the transfer at the cap and the run ends with status network_limit; no more than the
# means: cap reached the program (the harness checks usage.network)
# network: allow:hosta.test:80,hosta.test:443
# network-limits: bytes_down=256KiB
# expect-status: network_limit
# expect-contained: 0
# expect-network-limit: bytes_down
from attacklib import escaped
from netlib import allowed_works, fetch

if allowed_works():
    for url in ("https://hosta.test/bytes/4194304", "http://hosta.test/bytes/4194304"):
        try:
            status, body = fetch(url)
            if len(body) > 256 << 10:
                escaped(f"download {url}", f"got {len(body)} bytes past a 256KiB cap")
        except Exception:
            pass  # cut by the proxy; the run should be ending
    escaped("bytes_down", "the program is still running after two 4 MiB downloads under a 256KiB cap")
