# case: 44
# title: AF_VSOCK, AF_PACKET, AF_NETLINK and other socket families
# tries: create sockets of AF_VSOCK, AF_PACKET, AF_NETLINK (route, uevent, audit), AF_ALG, AF_KEY, AF_XDP
# tries: and AF_BLUETOOTH; nothing is sent
# means: every socket() fails: only AF_UNIX is allowed when the network is off
# expect-status: ok
# expect-contained: 9
# expect-stdout: ^DONE$
import socket
from attacklib import contained, escaped, done, ename

for name, fam, typ, proto in (("AF_VSOCK", 40, socket.SOCK_STREAM, 0),
                              ("AF_PACKET", 17, socket.SOCK_RAW, 0x0300),
                              ("AF_NETLINK route", 16, socket.SOCK_RAW, 0),
                              ("AF_NETLINK uevent", 16, socket.SOCK_DGRAM, 15),
                              ("AF_NETLINK audit", 16, socket.SOCK_RAW, 9),
                              ("AF_ALG", 38, socket.SOCK_SEQPACKET, 0),
                              ("AF_KEY", 15, socket.SOCK_RAW, 2),
                              ("AF_XDP", 44, socket.SOCK_RAW, 0),
                              ("AF_BLUETOOTH", 31, socket.SOCK_RAW, 1)):
    try:
        socket.socket(fam, typ, proto).close()
        escaped(name, "created")
    except OSError as e:
        contained(name, ename(e.errno))
done()
