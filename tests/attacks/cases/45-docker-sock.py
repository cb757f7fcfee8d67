# case: 45
# title: /var/run/docker.sock and other host control sockets
# tries: look for docker's, containerd's and podman's sockets and for the harness's docker.sock stand-in
# tries: (a listening unix socket in the host's /run); connect to any that exists
# means: none of them exists inside the sandbox
# expect-status: ok
# expect-contained: 6
# expect-stdout: ^DONE$
import os, socket
from attacklib import contained, escaped, done, ename

paths = ["/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock",
         "/run/podman/podman.sock", "/run/user/0/docker.sock", os.environ.get("SANDRUN_ATTACK_DOCKER") or "/run/sandrun-attack-none.sock"]
for p in paths:
    try:
        os.lstat(p)
    except OSError as e:
        contained(p, f"absent ({ename(e.errno)})")
        continue
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(3)
        s.connect(p)
        escaped(p, f"present and connectable: {s.recv(100)!r}")
    except OSError as e:
        escaped(p, f"present ({ename(e.errno)} on connect)")
done()
