//go:build linux && amd64

package jail

import (
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// TestGuestFilterInProcess runs the guest children's allowlist in
// x/net/bpf's VM: what an interpreter past its start needs is allowed,
// every way out of the process is not.
func TestGuestFilterInProcess(t *testing.T) {
	prog, err := buildGuestFilter()
	if err != nil {
		t.Fatal(err)
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	eperm := errno(unix.EPERM)
	x := uint32(unix.AUDIT_ARCH_X86_64)
	cases := []struct {
		name string
		arch uint32
		nr   int32
		args []uint64
		want uint32
	}{
		{"read", x, unix.SYS_READ, nil, retAllow},
		{"write", x, unix.SYS_WRITE, nil, retAllow},
		{"openat (Landlock decides where)", x, unix.SYS_OPENAT, nil, retAllow},
		{"mmap", x, unix.SYS_MMAP, nil, retAllow},
		{"getrandom", x, unix.SYS_GETRANDOM, nil, retAllow},
		{"exit_group", x, unix.SYS_EXIT_GROUP, nil, retAllow},
		{"fcntl F_GETFL", x, unix.SYS_FCNTL, []uint64{0, unix.F_GETFL}, retAllow},
		{"fcntl F_DUPFD_CLOEXEC", x, unix.SYS_FCNTL, []uint64{0, unix.F_DUPFD_CLOEXEC}, retAllow},
		{"fcntl F_SETLK", x, unix.SYS_FCNTL, []uint64{0, unix.F_SETLK}, eperm},
		{"fcntl F_GETLK", x, unix.SYS_FCNTL, []uint64{0, unix.F_GETLK}, eperm},
		{"fcntl F_OFD_SETLKW", x, unix.SYS_FCNTL, []uint64{0, unix.F_OFD_SETLKW}, eperm},
		{"fcntl F_SETLK with high bits", x, unix.SYS_FCNTL, []uint64{0, 0xdead_0000_0000 | unix.F_SETLK}, eperm},
		{"ioctl ENOTTY", x, unix.SYS_IOCTL, []uint64{0, unix.TCGETS}, errno(unix.ENOTTY)},
		{"ioctl TIOCSTI", x, unix.SYS_IOCTL, []uint64{0, unix.TIOCSTI}, errno(unix.ENOTTY)},
		{"flock", x, unix.SYS_FLOCK, nil, eperm},
		{"execve", x, unix.SYS_EXECVE, nil, eperm},
		{"execveat", x, unix.SYS_EXECVEAT, nil, eperm},
		{"fork", x, unix.SYS_FORK, nil, eperm},
		{"vfork", x, unix.SYS_VFORK, nil, eperm},
		{"clone (a thread)", x, unix.SYS_CLONE, []uint64{unix.CLONE_VM | unix.CLONE_THREAD}, eperm},
		{"clone3", x, unix.SYS_CLONE3, nil, eperm},
		{"socket AF_UNIX", x, unix.SYS_SOCKET, []uint64{unix.AF_UNIX}, eperm},
		{"socketpair", x, unix.SYS_SOCKETPAIR, nil, eperm},
		{"connect", x, unix.SYS_CONNECT, nil, eperm},
		{"sendto", x, unix.SYS_SENDTO, nil, eperm},
		{"pipe2", x, unix.SYS_PIPE2, nil, eperm},
		{"kill", x, unix.SYS_KILL, nil, eperm},
		{"tgkill", x, unix.SYS_TGKILL, nil, eperm},
		{"pidfd_open", x, unix.SYS_PIDFD_OPEN, nil, eperm},
		{"ptrace", x, unix.SYS_PTRACE, nil, eperm},
		{"process_vm_readv", x, unix.SYS_PROCESS_VM_READV, nil, eperm},
		{"mount", x, unix.SYS_MOUNT, nil, eperm},
		{"unshare", x, unix.SYS_UNSHARE, nil, eperm},
		{"setns", x, unix.SYS_SETNS, nil, eperm},
		{"chroot", x, unix.SYS_CHROOT, nil, eperm},
		{"prctl", x, unix.SYS_PRCTL, nil, eperm},
		{"seccomp", x, unix.SYS_SECCOMP, nil, eperm},
		{"setuid", x, unix.SYS_SETUID, nil, eperm},
		{"capset", x, unix.SYS_CAPSET, nil, eperm},
		{"prlimit64 on itself", x, unix.SYS_PRLIMIT64, []uint64{0}, retAllow},
		{"prlimit64 on another pid", x, unix.SYS_PRLIMIT64, []uint64{1}, eperm},
		{"prlimit64 pid with high bits", x, unix.SYS_PRLIMIT64, []uint64{1 << 32}, retAllow},
		{"recvmsg", x, unix.SYS_RECVMSG, nil, retAllow},
		{"sendmsg", x, unix.SYS_SENDMSG, nil, eperm},
		{"keyctl", x, unix.SYS_KEYCTL, nil, eperm},
		{"bpf", x, unix.SYS_BPF, nil, eperm},
		{"perf_event_open", x, unix.SYS_PERF_EVENT_OPEN, nil, eperm},
		{"io_uring_setup", x, unix.SYS_IO_URING_SETUP, nil, eperm},
		{"userfaultfd", x, unix.SYS_USERFAULTFD, nil, eperm},
		{"memfd_create", x, unix.SYS_MEMFD_CREATE, nil, eperm},
		{"shmget", x, unix.SYS_SHMGET, nil, eperm},
		{"msgget", x, unix.SYS_MSGGET, nil, eperm},
		{"mq_open", x, unix.SYS_MQ_OPEN, nil, eperm},
		{"inotify_init1", x, unix.SYS_INOTIFY_INIT1, nil, eperm},
		{"mkdir", x, unix.SYS_MKDIR, nil, eperm},
		{"unlink", x, unix.SYS_UNLINK, nil, eperm},
		{"rename", x, unix.SYS_RENAME, nil, eperm},
		{"symlink", x, unix.SYS_SYMLINK, nil, eperm},
		{"mknod", x, unix.SYS_MKNOD, nil, eperm},
		{"chmod", x, unix.SYS_CHMOD, nil, eperm},
		{"setsid", x, unix.SYS_SETSID, nil, eperm},
		{"personality", x, unix.SYS_PERSONALITY, nil, eperm},
		{"reboot", x, unix.SYS_REBOOT, nil, eperm},
		{"i386 arch killed", unix.AUDIT_ARCH_I386, 1, nil, retKillProcess},
		{"x32 number killed", x, 0x40000000 | unix.SYS_READ, nil, retKillProcess},
	}
	for _, c := range cases {
		got, err := vm.Run(seccompData(c.arch, c.nr, c.args...))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if uint32(got) != c.want {
			t.Errorf("%s: filter returned %#x, want %#x", c.name, uint32(got), c.want)
		}
	}
	for _, n := range guestAllowed {
		if _, ok := guestSysnums[n]; !ok {
			t.Errorf("allowed call %s has no number on this architecture", n)
		}
	}
}
