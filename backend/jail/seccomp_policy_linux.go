//go:build linux

package jail

import (
	"fmt"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The seccomp layer is a deny list (docs/hardening.md: the union of Docker's
// default profile, codex's and isolate's lists), written as data and
// compiled to classic BPF here. We compile it ourselves with
// golang.org/x/net/bpf rather than use a seccomp library: the policy
// needs a few argument checks (clone flags, ioctl requests masked to 32
// bits, socket families), x/net/bpf's VM lets the tests run the program
// in-process, and there is no cgo.

// Seccomp return actions.
const (
	retKillProcess = 0x80000000
	retAllow       = 0x7fff0000
	retErrno       = 0x00050000
)

// argOp says how a rule's argument check decides.
type argOp int

const (
	opNone    argOp = iota // no check: the action always applies
	opAnyBits              // action when (arg & Mask) != 0
	opIn                   // action when arg is one of Values
	opNotIn                // action when arg is none of Values
)

// rule is one line of the policy. Arguments are compared on their low 32
// bits: the kernel truncates ioctl requests, flags and families to int,
// so a value with high bits set must not slip past the check.
type rule struct {
	Name   string
	Action uint32
	Op     argOp
	Arg    int
	Mask   uint32
	Values []uint32
}

func errno(e unix.Errno) uint32 { return retErrno | uint32(e) }

// nsFlags are the clone flags that create namespaces.
const nsFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWTIME

// denied is the policy. Names missing on an architecture are skipped (the
// call does not exist there).
func denied() []rule {
	eperm := errno(unix.EPERM)
	enosys := errno(unix.ENOSYS)
	var rs []rule
	for _, n := range []string{
		// kernel modules, kexec, reboot
		"init_module", "finit_module", "delete_module", "create_module", "get_kernel_syms",
		"query_module", "kexec_load", "kexec_file_load", "reboot",
		// keyrings
		"add_key", "keyctl", "request_key",
		// tracing and introspection of other processes
		"bpf", "perf_event_open", "lookup_dcookie", "ptrace", "process_vm_readv",
		"process_vm_writev", "kcmp", "pidfd_getfd", "process_madvise",
		// mounts and namespaces
		"mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "fsopen", "fsconfig",
		"fsmount", "fspick", "open_tree", "move_mount", "mount_setattr",
		// clocks
		"settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
		// NUMA
		"mbind", "set_mempolicy", "move_pages", "migrate_pages", "set_mempolicy_home_node",
		// the rest of the usual list
		"swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "iopl", "ioperm",
		"open_by_handle_at", "name_to_handle_at", "userfaultfd", "vm86", "vm86old", "uselib",
		"ustat", "sysfs", "_sysctl", "nfsservctl", "vhangup", "syslog", "fanotify_init",
		"sethostname", "setdomainname",
	} {
		rs = append(rs, rule{Name: n, Action: eperm})
	}
	// flock on a shared read-only file would be a channel between two
	// sandboxes; POSIX locks need a writable fd for exclusive locks.
	rs = append(rs, rule{Name: "flock", Action: errno(unix.ENOLCK)})
	// inotify on a runtime file every run binds (the same inode) reports
	// other runs' and the host's reads of it: a channel (attack case 49).
	for _, n := range []string{"inotify_init", "inotify_init1", "inotify_add_watch"} {
		rs = append(rs, rule{Name: n, Action: eperm})
	}
	// ENOSYS makes libc fall back (clone3 -> clone) or report "not
	// available" (io_uring) instead of failing oddly.
	for _, n := range []string{"clone3", "io_uring_setup", "io_uring_enter", "io_uring_register"} {
		rs = append(rs, rule{Name: n, Action: enosys})
	}
	rs = append(rs,
		rule{Name: "clone", Action: eperm, Op: opAnyBits, Arg: 0, Mask: nsFlags},
		rule{Name: "ioctl", Action: eperm, Op: opIn, Arg: 1, Values: []uint32{unix.TIOCSTI, unix.TIOCLINUX}},
		// Only unix sockets: no IP (network is off), no netlink, packet
		// or vsock.
		rule{Name: "socket", Action: errno(unix.EAFNOSUPPORT), Op: opNotIn, Arg: 0, Values: []uint32{unix.AF_UNIX}},
		rule{Name: "socketpair", Action: errno(unix.EAFNOSUPPORT), Op: opNotIn, Arg: 0, Values: []uint32{unix.AF_UNIX}},
		// personality: only the harmless values Docker allows (query,
		// PER_LINUX, PER_LINUX32, ADDR_NO_RANDOMIZE combinations).
		rule{Name: "personality", Action: eperm, Op: opNotIn, Arg: 0, Values: []uint32{0, 8, 0x20000, 0x20008, 0xffffffff}},
	)
	return rs
}

// buildFilter compiles the policy for this architecture.
func buildFilter() ([]bpf.Instruction, error) { return buildFilterFor(false) }

// buildFilterFor compiles the policy; inet also allows IPv4 TCP sockets
// (a run with a network allowlist, network_linux.go).
func buildFilterFor(inet bool) ([]bpf.Instruction, error) {
	prog, err := filterPrologue()
	if err != nil {
		return nil, err
	}
	for _, r := range denied() {
		nr, ok := sysnums[r.Name]
		if !ok {
			continue
		}
		body := ruleBody(r)
		if inet && r.Name == "socket" {
			body = inetSocketBody(r.Action)
		}
		if len(body) > 255 {
			return nil, fmt.Errorf("seccomp: rule %s too long", r.Name)
		}
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(nr), SkipFalse: uint8(len(body))})
		prog = append(prog, body...)
	}
	prog = append(prog, bpf.RetConstant{Val: retAllow})
	return prog, nil
}

// filterPrologue kills a call of another architecture (or an x32 number)
// and loads the call's number: the start of every filter this package
// builds.
func filterPrologue() ([]bpf.Instruction, error) {
	if auditArch == 0 {
		return nil, fmt.Errorf("seccomp: no policy for this architecture")
	}
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: 4, Size: 4}, // seccomp_data.arch
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: auditArch, SkipTrue: 1},
		bpf.RetConstant{Val: retKillProcess},
		bpf.LoadAbsolute{Off: 0, Size: 4}, // seccomp_data.nr
	}
	if x32Bit != 0 {
		// x32 system calls are numbered with this bit on x86_64.
		prog = append(prog,
			bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: x32Bit, SkipFalse: 1},
			bpf.RetConstant{Val: retKillProcess})
	}
	return prog, nil
}

// ruleBody is what runs once the syscall number matched. Every path
// returns, since an argument check overwrites the accumulator.
func ruleBody(r rule) []bpf.Instruction {
	act := bpf.RetConstant{Val: r.Action}
	allow := bpf.RetConstant{Val: retAllow}
	load := bpf.LoadAbsolute{Off: uint32(16 + 8*r.Arg), Size: 4} // low word (little endian)
	switch r.Op {
	case opAnyBits:
		return []bpf.Instruction{load, bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: r.Mask, SkipFalse: 1}, act, allow}
	case opIn, opNotIn:
		out := []bpf.Instruction{load}
		n := len(r.Values)
		for i, v := range r.Values {
			// jump to the instruction after the list (index n from here
			// on the "match" side): skip the remaining comparisons.
			out = append(out, bpf.JumpIf{Cond: bpf.JumpEqual, Val: v, SkipTrue: uint8(n - i)})
		}
		if r.Op == opIn {
			return append(out, allow, act) // no match: allow; match: act
		}
		return append(out, act, allow) // no match: act; match: allow
	}
	return []bpf.Instruction{act}
}
