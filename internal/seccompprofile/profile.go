// Package seccompprofile is the seccomp policy of the container tiers:
// Docker's default profile (github.com/moby/profiles/seccomp, as data)
// tightened to the union the hardening checklist asks for. Docker's
// default allows ptrace (kernel >= 4.8), io_uring, adjtimex and
// clock_adjtime queries, TIOCSTI and every socket family but AF_VSOCK;
// sandrun's tiers deny them all, as the jail does.
package seccompprofile

import (
	"encoding/json"
	"slices"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// removed are dropped from every allow rule of Docker's profile; the
// profile's default action (EPERM) then answers them.
var removed = []string{
	"ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
	"adjtimex", "clock_adjtime",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"socket", "socketpair", "ioctl", "name_to_handle_at", "open_by_handle_at",
	"mknod", "mknodat",
	// inotify on a runtime file shared by every container (the same
	// image layer inode) reports the other runs' reads: a channel
	// between sandboxes (attack case 49).
	"inotify_init", "inotify_init1", "inotify_add_watch",
}

// Options tune the profile per tier.
type Options struct {
	// Clone3Allow lets clone3 through instead of answering ENOSYS: for a
	// kernel (gVisor's) that answers ENOSYS itself while its seccomp
	// layer does not honour errnoRet.
	Clone3Allow bool
	// NativeOnly lists only this host's own architecture, so that the
	// filter refuses the system calls of the others (i386 int 0x80, x32)
	// instead of matching them by name (attack case 23): Docker's profile
	// lists x86 and x32 beside x86_64.
	NativeOnly bool
	// InetStream also allows TCP sockets over IPv4 (AF_INET,
	// SOCK_STREAM): for a run with a network allowlist, whose only
	// reachable address is the proxy's, on the loopback of the run's own
	// network namespace. Datagram, raw, packet and IPv6 sockets stay
	// denied (no DNS, no ICMP from inside).
	InetStream bool
}

// Hardened returns the resolved profile for a process with no
// capabilities on this host's architecture and kernel.
func Hardened(o Options) (*specs.LinuxSeccomp, error) {
	sp := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{}}}
	p, err := seccomp.GetDefaultProfile(sp)
	if err != nil {
		return nil, err
	}
	// The native architecture only. Docker's profile also lists the
	// compat ones (x86 and x32 on amd64), so on a kernel with ia32
	// emulation every allowed name was allowed through int 0x80 too
	// (attack case 23); an architecture the filter does not list gets the
	// runtime's bad-architecture action (SIGSYS).
	if len(p.Architectures) > 1 {
		p.Architectures = p.Architectures[:1]
	}
	var kept []specs.LinuxSyscall
	for _, sc := range p.Syscalls {
		var names []string
		for _, n := range sc.Names {
			if slices.Contains(removed, n) || (o.Clone3Allow && n == "clone3") {
				continue
			}
			names = append(names, n)
		}
		if len(names) > 0 {
			sc.Names = names
			kept = append(kept, sc)
		}
	}
	enosys := uint(unix.ENOSYS)
	kept = append(kept, ioctlRules()...)
	kept = append(kept, mknodRules()...)
	uring := specs.LinuxSyscall{Names: []string{"io_uring_setup", "io_uring_enter", "io_uring_register"}, Action: specs.ActErrno, ErrnoRet: &enosys}
	kept = append(kept,
		// io_uring: ENOSYS, so runtimes fall back to plain syscalls.
		uring,
		// Sockets: AF_UNIX only; the tiers have no network.
		specs.LinuxSyscall{Names: []string{"socket", "socketpair"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: unix.AF_UNIX, Op: specs.OpEqualTo}}},
	)
	if o.InetStream {
		// socket(AF_INET, SOCK_STREAM | flags, 0 or IPPROTO_TCP): the
		// type's low 4 bits are the kind; the rest are NONBLOCK/CLOEXEC.
		for _, proto := range []uint64{0, unix.IPPROTO_TCP} {
			kept = append(kept, specs.LinuxSyscall{Names: []string{"socket"}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{
					{Index: 0, Value: unix.AF_INET, Op: specs.OpEqualTo},
					{Index: 1, Value: 0xf, ValueTwo: unix.SOCK_STREAM, Op: specs.OpMaskedEqual},
					{Index: 2, Value: proto, Op: specs.OpEqualTo},
				}})
		}
	}
	if o.Clone3Allow {
		kept = append(kept, specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActAllow})
	}
	p.Syscalls = kept
	if o.NativeOnly && len(p.Architectures) > 1 {
		p.Architectures = p.Architectures[:1]
	}
	return p, nil
}

// ioctlRules allow ioctl for every request but TIOCSTI (terminal input
// injection) and TIOCLINUX; those fall to the default action (EPERM).
// libseccomp lets an unconditional allow win over a conditional deny, and
// has no "masked not-equal", so the allowed set is spelled out as a union
// of masked-equal rules on the request's low 32 bits (the kernel reads
// the request as 32 bits, so high bits do not help an attacker): a request
// is allowed when one of the bits on which TIOCSTI and TIOCLINUX agree
// differs from theirs, or when its bits 1-3 match neither.
func ioctlRules() []specs.LinuxSyscall {
	const a, b = uint64(unix.TIOCSTI), uint64(unix.TIOCLINUX)
	rule := func(mask, value uint64) specs.LinuxSyscall {
		return specs.LinuxSyscall{Names: []string{"ioctl"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 1, Value: mask, ValueTwo: value, Op: specs.OpMaskedEqual}}}
	}
	var out []specs.LinuxSyscall
	for i := 0; i < 32; i++ {
		bit := uint64(1) << i
		if a&bit == b&bit {
			out = append(out, rule(bit, ^a&bit))
		}
	}
	const differ = uint64(0xe) // bits where a and b differ (1-3)
	for v := uint64(0); v <= differ; v += 2 {
		if v&differ == v && v != a&differ && v != b&differ {
			out = append(out, rule(differ, v))
		}
	}
	return out
}

// mknodRules allow mknod and mknodat for FIFOs, sockets and regular
// files only: never a character or block device, whatever the
// capabilities (gVisor's own tmpfs does not check CAP_MKNOD).
func mknodRules() []specs.LinuxSyscall {
	var out []specs.LinuxSyscall
	for _, t := range []uint64{unix.S_IFIFO, unix.S_IFSOCK, unix.S_IFREG, 0} {
		out = append(out,
			specs.LinuxSyscall{Names: []string{"mknod"}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{{Index: 1, Value: unix.S_IFMT, ValueTwo: t, Op: specs.OpMaskedEqual}}},
			specs.LinuxSyscall{Names: []string{"mknodat"}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{{Index: 2, Value: unix.S_IFMT, ValueTwo: t, Op: specs.OpMaskedEqual}}},
		)
	}
	return out
}

// JSON is the profile in the engine's format (docker's security option
// "seccomp=<json>").
func JSON(o Options) (string, error) {
	p, err := Hardened(o)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(p)
	return string(b), err
}
