//go:build linux

package jail

import (
	"fmt"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// guestAllowed is the system call allowlist of a guest's program (P in
// guest_linux.go): what an interpreter that has finished its start needs
// to compute, allocate, read its own runtime's files (lazy imports; the
// Landlock rules say which) and write to the descriptors it was given.
// Everything else fails with EPERM: no exec, fork or clone, no sockets,
// no signals to other processes, no ptrace, no new mounts or namespaces,
// no SysV IPC, no timers or event fds, no io_uring, no file locks
// (fcntl's lock commands, flock). Names missing on an architecture are
// skipped.
var guestAllowed = []string{
	// descriptors it holds: stdio, the channel, files it opened (and the
	// run's socket, on which its config comes with the channel: recvmsg)
	"read", "write", "readv", "writev", "pread64", "lseek", "close", "close_range", "fcntl", "dup", "dup2", "dup3",
	"recvmsg", "recvfrom",
	// its runtime's files (Landlock decides which)
	"openat", "open", "fstat", "stat", "lstat", "newfstatat", "statx", "getdents64",
	"readlink", "readlinkat", "access", "faccessat", "faccessat2", "getcwd",
	// memory
	"mmap", "munmap", "mremap", "mprotect", "brk", "madvise",
	// signals to itself, for its own handlers
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "restart_syscall",
	// time, randomness, identity, scheduling
	"clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep", "clock_nanosleep",
	"getrandom", "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid",
	"getresuid", "getresgid", "getgroups", "sched_yield", "sched_getaffinity", "getrusage",
	"sysinfo", "uname", "futex", "poll", "ppoll",
	"exit", "exit_group",
}

// buildGuestFilter compiles the allowlist: the architecture check, then
// one comparison per allowed call jumping to allow; ioctl (isatty) fails
// with ENOTTY; the rest fail with EPERM.
func buildGuestFilter() ([]bpf.Instruction, error) {
	prog, err := filterPrologue()
	if err != nil {
		return nil, err
	}
	var nrs []uint32
	for _, n := range guestAllowed {
		if nr, ok := guestSysnums[n]; ok {
			nrs = append(nrs, uint32(nr))
		}
	}
	if len(nrs) == 0 || len(nrs) > 250 {
		return nil, fmt.Errorf("seccomp: guest allowlist of %d calls", len(nrs))
	}
	prog = append(prog,
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_IOCTL, SkipFalse: 1},
		bpf.RetConstant{Val: errno(unix.ENOTTY)})
	// fcntl, but no record locks: a lock on a runtime file (the same
	// inode in every guest child) would be a channel between concurrent
	// runs (attack case 49).
	locks := ruleBody(rule{Name: "fcntl", Action: errno(unix.EPERM), Op: opIn, Arg: 1, Values: []uint32{
		unix.F_GETLK, unix.F_SETLK, unix.F_SETLKW, unix.F_OFD_GETLK, unix.F_OFD_SETLK, unix.F_OFD_SETLKW}})
	prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_FCNTL, SkipFalse: uint8(len(locks))})
	prog = append(prog, locks...)
	// prlimit64 on itself only (pid 0): the child sets its run's rlimits
	// under the filter; a limit goes up no further than its hard value.
	self := ruleBody(rule{Name: "prlimit64", Action: errno(unix.EPERM), Op: opNotIn, Arg: 0, Values: []uint32{0}})
	prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_PRLIMIT64, SkipFalse: uint8(len(self))})
	prog = append(prog, self...)
	for i, nr := range nrs {
		// Skip the remaining comparisons and the EPERM return.
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: nr, SkipTrue: uint8(len(nrs) - i)})
	}
	return append(prog, bpf.RetConstant{Val: errno(unix.EPERM)}, bpf.RetConstant{Val: retAllow}), nil
}
