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
	"socket", "socketpair", "ioctl",
}

// Options tune the profile per tier.
type Options struct {
	// Clone3Allow lets clone3 through instead of answering ENOSYS: for a
	// kernel (gVisor's) that answers ENOSYS itself while its seccomp
	// layer does not honour errnoRet.
	Clone3Allow bool
}

// Hardened returns the resolved profile for a process with no
// capabilities on this host's architecture and kernel.
func Hardened(o Options) (*specs.LinuxSeccomp, error) {
	sp := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{}}}
	p, err := seccomp.GetDefaultProfile(sp)
	if err != nil {
		return nil, err
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
	eperm := uint(unix.EPERM)
	masked := func(index uint, value uint64) specs.LinuxSeccompArg {
		// The kernel reads ioctl's request as 32 bits: compare only those,
		// so TIOCSTI with high bits set is caught too.
		return specs.LinuxSeccompArg{Index: index, Value: 0xffffffff, ValueTwo: value, Op: specs.OpMaskedEqual}
	}
	kept = append(kept,
		// io_uring: ENOSYS, so runtimes fall back to plain syscalls.
		specs.LinuxSyscall{Names: []string{"io_uring_setup", "io_uring_enter", "io_uring_register"}, Action: specs.ActErrno, ErrnoRet: &enosys},
		// Sockets: AF_UNIX only; the tiers have no network.
		specs.LinuxSyscall{Names: []string{"socket", "socketpair"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: unix.AF_UNIX, Op: specs.OpEqualTo}}},
		// ioctl: everything but terminal injection (TIOCSTI) and TIOCLINUX.
		specs.LinuxSyscall{Names: []string{"ioctl"}, Action: specs.ActErrno, ErrnoRet: &eperm, Args: []specs.LinuxSeccompArg{masked(1, unix.TIOCSTI)}},
		specs.LinuxSyscall{Names: []string{"ioctl"}, Action: specs.ActErrno, ErrnoRet: &eperm, Args: []specs.LinuxSeccompArg{masked(1, unix.TIOCLINUX)}},
		specs.LinuxSyscall{Names: []string{"ioctl"}, Action: specs.ActAllow},
	)
	if o.Clone3Allow {
		kept = append(kept, specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActAllow})
	}
	p.Syscalls = kept
	return p, nil
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
