# case: 41
# title: DNS lookup
# tries: inside a private network namespace only (otherwise it refuses, sending nothing): resolve
# tries: example.com and a random name under sandrun.invalid
# means: resolution fails (no resolver reachable, no network)
# expect-status: ok
# expect-contained: 2
# expect-stdout: ^DONE$
import socket
from attacklib import contained, escaped, done, guard

if guard("net", "dns"):
    socket.setdefaulttimeout(5)
    for name in ("example.com", "sandrun-attack-x7q.invalid"):
        try:
            r = socket.getaddrinfo(name, 80)
            escaped(f"resolve {name}", f"{r[0][4]}")
        except OSError as e:
            contained(f"resolve {name}", f"{type(e).__name__}: {e}")
done()
