# case: 66
# title: network allowlist: UDP, ICMP and other sockets beside the proxy
# tries: with host A allowed (TCP through the proxy): UDP to A (53, 80, 443/QUIC), an ICMP echo to A over a ping
# tries: socket and a raw socket, a raw IP socket, a packet socket, SCTP and UDP-lite
# means: only TCP to the proxy is possible: every other socket is denied (seccomp: EPERM/EACCES/EAFNOSUPPORT)
# means: or has no route out of the empty namespace; nothing reaches A
# network: allow:hosta.test:80
# expect-status: ok
# expect-contained: 9
# expect-stdout: ^DONE$
import socket
from attacklib import done
from netlib import HOSTA, allowed_works, direct

# An ICMP echo request (type 8), checksum precomputed for this payload.
def icmp_echo():
    hdr = bytearray(b"\x08\x00\x00\x00\x12\x34\x00\x01sandrun")
    s = sum((hdr[i] << 8) + (hdr[i + 1] if i + 1 < len(hdr) else 0) for i in range(0, len(hdr), 2))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    c = ~s & 0xffff
    hdr[2], hdr[3] = c >> 8, c & 0xff
    return bytes(hdr)

if allowed_works():
    for port in (53, 80, 443):
        direct(f"udp {HOSTA}:{port}", socket.AF_INET, socket.SOCK_DGRAM, (HOSTA, port))
    direct(f"icmp ping socket to {HOSTA}", socket.AF_INET, socket.SOCK_DGRAM, (HOSTA, 0), proto=socket.IPPROTO_ICMP, send=icmp_echo())
    direct(f"icmp raw socket to {HOSTA}", socket.AF_INET, socket.SOCK_RAW, (HOSTA, 0), proto=socket.IPPROTO_ICMP, send=icmp_echo())
    direct(f"raw IP socket to {HOSTA}", socket.AF_INET, socket.SOCK_RAW, (HOSTA, 0), proto=socket.IPPROTO_RAW, send=b"\x45" + b"\x00" * 19)
    direct("packet socket", socket.AF_PACKET, socket.SOCK_RAW, ("lo", 0), proto=0x0300, send=b"\x00" * 14)
    direct(f"sctp to {HOSTA}:80", socket.AF_INET, socket.SOCK_STREAM, (HOSTA, 80), proto=132)
    direct(f"udplite to {HOSTA}:53", socket.AF_INET, socket.SOCK_DGRAM, (HOSTA, 53), proto=136)
done()
