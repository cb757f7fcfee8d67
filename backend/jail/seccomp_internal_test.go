//go:build linux && amd64

package jail

import (
	"encoding/binary"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// seccompData builds struct seccomp_data for x/net/bpf's VM. The kernel
// loads 32-bit words in native (little-endian) order, the VM in network
// order; so each word sits at its little-endian offset (an argument's low
// word first) but is written big-endian, which makes the VM's load see
// the value the kernel's load sees.
func seccompData(arch uint32, nr int32, args ...uint64) []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b[0:], uint32(nr))
	binary.BigEndian.PutUint32(b[4:], arch)
	for i, a := range args {
		binary.BigEndian.PutUint32(b[16+8*i:], uint32(a))
		binary.BigEndian.PutUint32(b[20+8*i:], uint32(a>>32))
	}
	return b
}

// TestSeccompFilterInProcess runs the compiled policy in x/net/bpf's VM:
// no kernel involved, every rule and the architecture checks exercised.
func TestSeccompFilterInProcess(t *testing.T) {
	prog, err := buildFilter()
	if err != nil {
		t.Fatal(err)
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	eperm, enosys, eafno := errno(unix.EPERM), errno(unix.ENOSYS), errno(unix.EAFNOSUPPORT)
	x := uint32(unix.AUDIT_ARCH_X86_64)
	cases := []struct {
		name string
		arch uint32
		nr   int32
		args []uint64
		want uint32
	}{
		{"read allowed", x, unix.SYS_READ, nil, retAllow},
		{"execve allowed", x, unix.SYS_EXECVE, nil, retAllow},
		{"ptrace", x, unix.SYS_PTRACE, nil, eperm},
		{"mount", x, unix.SYS_MOUNT, nil, eperm},
		{"unshare", x, unix.SYS_UNSHARE, nil, eperm},
		{"setns", x, unix.SYS_SETNS, nil, eperm},
		{"bpf", x, unix.SYS_BPF, nil, eperm},
		{"keyctl", x, unix.SYS_KEYCTL, nil, eperm},
		{"userfaultfd", x, unix.SYS_USERFAULTFD, nil, eperm},
		{"kexec_load", x, unix.SYS_KEXEC_LOAD, nil, eperm},
		{"clock_settime", x, unix.SYS_CLOCK_SETTIME, nil, eperm},
		{"open_by_handle_at", x, unix.SYS_OPEN_BY_HANDLE_AT, nil, eperm},
		{"clone3 ENOSYS", x, unix.SYS_CLONE3, nil, enosys},
		{"io_uring_setup ENOSYS", x, unix.SYS_IO_URING_SETUP, nil, enosys},
		{"thread clone allowed", x, unix.SYS_CLONE, []uint64{unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD}, retAllow},
		{"fork clone allowed", x, unix.SYS_CLONE, []uint64{uint64(unix.SIGCHLD)}, retAllow},
		{"clone NEWUSER", x, unix.SYS_CLONE, []uint64{unix.CLONE_NEWUSER}, eperm},
		{"clone NEWNET|VM", x, unix.SYS_CLONE, []uint64{unix.CLONE_NEWNET | unix.CLONE_VM}, eperm},
		{"clone NEWTIME", x, unix.SYS_CLONE, []uint64{unix.CLONE_NEWTIME}, eperm},
		{"ioctl TCGETS allowed", x, unix.SYS_IOCTL, []uint64{0, unix.TCGETS}, retAllow},
		{"ioctl TIOCSTI", x, unix.SYS_IOCTL, []uint64{0, unix.TIOCSTI}, eperm},
		{"ioctl TIOCSTI high bits", x, unix.SYS_IOCTL, []uint64{0, 0xdead_0000_0000 | unix.TIOCSTI}, eperm},
		{"ioctl TIOCLINUX", x, unix.SYS_IOCTL, []uint64{0, unix.TIOCLINUX}, eperm},
		{"socket AF_UNIX allowed", x, unix.SYS_SOCKET, []uint64{unix.AF_UNIX}, retAllow},
		{"socket AF_INET", x, unix.SYS_SOCKET, []uint64{unix.AF_INET}, eafno},
		{"socket AF_INET6", x, unix.SYS_SOCKET, []uint64{unix.AF_INET6}, eafno},
		{"socket AF_NETLINK", x, unix.SYS_SOCKET, []uint64{unix.AF_NETLINK}, eafno},
		{"socket AF_PACKET", x, unix.SYS_SOCKET, []uint64{unix.AF_PACKET}, eafno},
		{"socket AF_VSOCK", x, unix.SYS_SOCKET, []uint64{unix.AF_VSOCK}, eafno},
		{"socket AF_UNIX with high bits is still AF_UNIX", x, unix.SYS_SOCKET, []uint64{1<<32 | unix.AF_UNIX}, retAllow},
		{"socketpair AF_INET", x, unix.SYS_SOCKETPAIR, []uint64{unix.AF_INET}, eafno},
		{"personality query", x, unix.SYS_PERSONALITY, []uint64{0xffffffff}, retAllow},
		{"personality READ_IMPLIES_EXEC", x, unix.SYS_PERSONALITY, []uint64{0x0400000}, eperm},
		{"flock", x, unix.SYS_FLOCK, nil, errno(unix.ENOLCK)},
		{"inotify_init1", x, unix.SYS_INOTIFY_INIT1, nil, errno(unix.EPERM)},
		{"inotify_add_watch", x, unix.SYS_INOTIFY_ADD_WATCH, nil, errno(unix.EPERM)},
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
}

// TestSeccompPolicyResolves: every rule names a syscall this
// architecture's table knows, except the ones that do not exist on it.
func TestSeccompPolicyResolves(t *testing.T) {
	absent := map[string]bool{"vm86": true, "vm86old": true} // i386 only; this file is amd64's
	for _, r := range denied() {
		if _, ok := sysnums[r.Name]; !ok && !absent[r.Name] {
			t.Errorf("rule %s has no syscall number on this architecture", r.Name)
		}
	}
}
