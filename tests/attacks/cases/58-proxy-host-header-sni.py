# case: 58
# title: network allowlist: Host header and TLS SNI that name another host
# tries: with only host A allowed: a plain-HTTP proxy request for http://hosta.test/ whose Host header names
# tries: hostb.test (and 127.0.0.1); an origin-form request (GET /hello, Host: hostb.test) sent to the proxy;
# tries: an https:// URL sent as a plain request; a CONNECT to hosta.test:443 whose TLS ClientHello names
# tries: hostb.test (domain fronting), then one naming hosta.test (which must work)
# means: the mismatches are refused and recorded, never forwarded; the tunnel with the wrong server name is
# means: closed before any byte reaches the host
# network: allow:hosta.test:80,hosta.test:443
# expect-status: ok
# expect-contained: 5
# expect-network-refused: 3
# expect-stdout: ^DONE$
import socket, ssl
from attacklib import contained, escaped, done, broken
from netlib import CA, allowed_works, get_via_proxy, proxy_raw, refused


def tls_through(sni):
    """CONNECT hosta.test:443, then a TLS handshake naming sni (the
    certificate is for hosta.test: the check is off, the server name is
    what is tested). Returns what the tunnel answered."""
    def then(sock):
        ctx = ssl.create_default_context(cafile=CA)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        try:
            t = ctx.wrap_socket(sock, server_hostname=sni)
            t.sendall(b"GET /hello HTTP/1.1\r\nHost: " + sni.encode() + b"\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = t.recv(4096)
                if not chunk:
                    break
                data += chunk
            return data
        except (OSError, ssl.SSLError) as e:
            return e
    return proxy_raw(b"CONNECT hosta.test:443 HTTP/1.1\r\nHost: hosta.test:443\r\n\r\n", then=then)


if allowed_works() and allowed_works("https://hosta.test/hello"):
    get_via_proxy("Host: hostb.test on http://hosta.test/", "http://hosta.test/hello", host_header="hostb.test")
    get_via_proxy("Host: 127.0.0.1 on http://hosta.test/", "http://hosta.test/hello", host_header="127.0.0.1")
    code, hdrs, _ = proxy_raw(b"GET /hello HTTP/1.1\r\nHost: hostb.test\r\nConnection: close\r\n\r\n")
    refused("origin-form GET /hello, Host: hostb.test", code, hdrs)
    get_via_proxy("https:// as a plain request", "https://hosta.test/hello")
    code, _, got = tls_through("hostb.test")
    if code != 200:
        escaped("CONNECT hosta.test:443", f"the allowed CONNECT was answered {code}")
    elif isinstance(got, bytes) and b"hello from" in got:
        escaped("SNI hostb.test through a tunnel to hosta.test", f"got {got[-40:]!r}")
    else:
        contained("SNI hostb.test through a tunnel to hosta.test", f"tunnel closed: {got!r}"[:160])
    code, _, got = tls_through("hosta.test")
    if not (code == 200 and isinstance(got, bytes) and b"hello from hosta.test" in got):
        broken("SNI hosta.test", f"the matching server name did not work: {code} {got!r}"[:160])
done()
