package seccompprofile

// Options tune the profile per tier.
type Options struct {
	// Clone3Allow lets clone3 through instead of answering ENOSYS: for a
	// kernel (gVisor's) that answers ENOSYS itself while its seccomp
	// layer does not honour errnoRet.
	Clone3Allow bool
	// InetStream also allows TCP sockets over IPv4 (AF_INET,
	// SOCK_STREAM): for a run with a network allowlist, whose only
	// reachable address is the proxy's, on the loopback of the run's own
	// network namespace. Datagram, raw, packet and IPv6 sockets stay
	// denied (no DNS, no ICMP from inside).
	InetStream bool
}
