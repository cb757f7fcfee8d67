# case: 64
# title: network allowlist: upload past bytes_up
# tries: with bytes_up capped at 64KiB: upload 1 MiB to the allowed host (plain HTTP POST), then through a
# tries: CONNECT tunnel (HTTPS POST)
# means: the proxy cuts the upload at the cap and the run ends with status network_limit; no more than the
# means: cap left the sandbox (the harness checks usage.network)
# network: allow:hosta.test:80,hosta.test:443
# network-limits: bytes_up=64KiB
# expect-status: network_limit
# expect-contained: 0
# expect-network-limit: bytes_up
from attacklib import escaped
from netlib import allowed_works, fetch

if allowed_works():
    for url in ("http://hosta.test/upload", "https://hosta.test/upload"):
        try:
            status, body = fetch(url, data=b"x" * (1 << 20))
            if b"got 1048576" in body:
                escaped(f"upload {url}", f"the host got all 1 MiB: {body[:40]!r}")
        except Exception:
            pass
    escaped("bytes_up", "the program is still running after two 1 MiB uploads under a 64KiB cap")
