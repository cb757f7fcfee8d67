"""netlib: helpers of the network-policy cases (those with a `network:`
header, tests/attacks/cases/54-...).

The harness writes this file, attacklib.py and the test CA (ca.pem) into
the work directory of every run with a network allowlist, and tells the
case where the project's own test hosts are:

    SANDRUN_ATTACK_HOSTA      host A's address (hosta.test: HTTP on 80,
                              HTTPS on 443, with /hello, /bytes/N,
                              /upload, /redirect?to=URL)
    SANDRUN_ATTACK_HOSTB      host B's address (hostb.test), never allowed
    SANDRUN_ATTACK_GATEWAY    the host's own address on host A's link (a
                              private address that is the machine itself)

The proxy resolves hosta.test and hostb.test; private.test resolves to the
gateway, loop.test to 127.0.0.1 and loop6.test to ::1 (the operator's
settings permit the test hosts' addresses and nothing else private). The
program reaches the proxy through HTTP_PROXY (http://127.0.0.1:3128).

Nothing here sends a packet anywhere but to the test hosts (addresses the
test made on this machine) or the sandbox's own loopback.
"""
import errno
import os
import socket
import ssl
import urllib.error
import urllib.request

from attacklib import broken, contained, escaped, ename

HOSTA = os.environ.get("SANDRUN_ATTACK_HOSTA", "")
HOSTB = os.environ.get("SANDRUN_ATTACK_HOSTB", "")
GATEWAY = os.environ.get("SANDRUN_ATTACK_GATEWAY", "")
CA = os.path.join(os.getcwd(), "ca.pem")


def proxy_addr():
    u = os.environ.get("HTTP_PROXY", "")
    if not u.startswith("http://"):
        return None
    host, _, port = u[len("http://"):].rstrip("/").rpartition(":")
    return host, int(port)


def fetch(url, data=None, timeout=30, headers=None):
    """GET (or POST data) through the proxy variables, as any client
    does; returns (status, body). HTTP errors are returned, not raised."""
    ctx = ssl.create_default_context(cafile=CA)
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def allowed_works(url="http://hosta.test/hello", want=b"hello from hosta.test"):
    """The allowed path must work, or the case would pass only because the
    network is off altogether: BROKEN otherwise."""
    try:
        status, body = fetch(url)
    except Exception as e:
        broken(f"allowed {url}", f"{type(e).__name__}: {e}")
        return False
    if status != 200 or want not in body:
        broken(f"allowed {url}", f"status {status}, body {body[:80]!r}")
        return False
    return True


def proxy_raw(data, timeout=20, then=None):
    """Sends raw bytes to the proxy; returns (status code, headers dict,
    socket, rest of the data read). then(sock) runs after a 200 to a
    CONNECT (the tunnel) and its result is returned as the fourth item."""
    addr = proxy_addr()
    if addr is None:
        raise OSError(errno.ENOENT, "no HTTP_PROXY in the environment")
    s = socket.create_connection(addr, timeout=timeout)
    s.sendall(data)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        code = int(lines[0].split()[1])
    except (IndexError, ValueError):
        code = 0
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    out = rest
    if code == 200 and then is not None:
        out = then(s)
    s.close()
    return code, hdrs, out


def refused(check, code, hdrs, detail=""):
    """Contained when the proxy refused by policy (400/403 with its
    X-Sandrun-Refused reason, or 429 at the connection cap). A 200 or a
    502 (the policy let it through; only the dial failed) is escaped."""
    why = hdrs.get("x-sandrun-refused", "")
    if code in (400, 403, 429) and why:
        contained(check, f"{code}: {why[:120]}")
    else:
        escaped(check, f"proxy answered {code} {why[:80]} {detail}".strip())


def connect_via_proxy(check, target, then=None):
    """CONNECT target through the proxy; must be refused."""
    try:
        code, hdrs, _ = proxy_raw(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode(), then=then)
    except OSError as e:
        escaped(check, f"could not even ask the proxy: {ename(e.errno)}")
        return
    refused(check, code, hdrs)


def get_via_proxy(check, url, host_header=None):
    """A plain-HTTP proxy request for url; must be refused."""
    host = host_header or url.split("/")[2]
    try:
        code, hdrs, _ = proxy_raw(f"GET {url} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    except OSError as e:
        escaped(check, f"could not even ask the proxy: {ename(e.errno)}")
        return
    refused(check, code, hdrs)


# Errors that show a direct connection never left the sandbox: denied by
# the sandbox's layers (EACCES/EPERM: Landlock, seccomp; EAFNOSUPPORT:
# the family is filtered) or no route out of its empty namespace.
NO_ROUTE = {errno.EACCES, errno.EPERM, errno.EAFNOSUPPORT, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL}


def direct(check, fam, typ, addr, proto=0, ok_errnos=NO_ROUTE, send=b"x"):
    """A socket of (fam, typ) straight to addr, without the proxy: TCP
    connects, anything else sends a datagram. Contained when the socket,
    the connect or the send fails with an errno in ok_errnos; a success, a
    timeout (a packet left) or another error is escaped."""
    try:
        s = socket.socket(fam, typ, proto)
    except OSError as e:
        if e.errno in ok_errnos:
            contained(check, f"socket(): {ename(e.errno)}")
        else:
            escaped(check, f"socket() failed with {ename(e.errno)}")
        return
    s.settimeout(3)
    try:
        if typ == socket.SOCK_STREAM:
            s.connect(addr)
            escaped(check, "connected")
        else:
            s.sendto(send, addr)
            try:
                data = s.recv(512)
                escaped(check, f"sent and got an answer {data[:40]!r}")
            except socket.timeout:
                escaped(check, "sent (no answer): the datagram left the sandbox")
    except socket.timeout:
        escaped(check, "timed out: a packet left the sandbox")
    except OSError as e:
        if e.errno in ok_errnos:
            contained(check, ename(e.errno))
        else:
            escaped(check, f"failed with {ename(e.errno)}: the attempt reached the network")
    finally:
        s.close()
