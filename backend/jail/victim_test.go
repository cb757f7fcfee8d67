//go:build linux && amd64

package jail_test

import (
	"net"
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/lang"
)

// victim makes raw system calls through ctypes and prints each errno.
const victim = `
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
def call(nr, *args):
    r = libc.syscall(nr, *[ctypes.c_long(a) for a in args])
    return "ok" if r >= 0 else errno.errorcode[ctypes.get_errno()]
print("unshare", call(272, 0x10000000))          # CLONE_NEWUSER
print("clone3", call(435, 0, 0))
print("io_uring_setup", call(425, 1, 0))
print("ptrace", call(101, 0, 0, 0, 0))            # PTRACE_TRACEME
print("keyctl", call(250, 0, 0, 0, 0))
print("bpf", call(321, 0, 0, 0))
print("mount", call(165, 0, 0, 0, 0, 0))
print("socket_inet", call(41, 2, 1, 0))
print("socket_netlink", call(41, 16, 3, 0))
print("tiocsti", call(16, 0, 0x5412 | (1 << 32), 0))
print("getpid", call(39))
`

// TestSeccompVictim: the filter as the real kernel applies it.
func TestSeccompVictim(t *testing.T) {
	b := backend(t)
	res := run(t, b, "python", victim)
	if res.Status != sandrun.StatusOK {
		t.Fatalf("%s %s %s", res.Status, res.Error, res.Stderr)
	}
	want := "unshare EPERM\nclone3 ENOSYS\nio_uring_setup ENOSYS\nptrace EPERM\nkeyctl EPERM\nbpf EPERM\nmount EPERM\nsocket_inet EAFNOSUPPORT\nsocket_netlink EAFNOSUPPORT\ntiocsti EPERM\ngetpid ok\n"
	if res.Stdout != want {
		t.Fatalf("got\n%s\nwant\n%s", res.Stdout, want)
	}
}

// TestLandlockAlone checks the Landlock layer with seccomp downgraded:
// TCP bind and connect are refused, writes outside /work, /tmp and
// /dev/shm are refused, and an abstract unix socket of a host listener
// (reachable in principle through the shared network namespace) is not.
func TestLandlockAlone(t *testing.T) {
	backend(t)
	ln, err := net.Listen("unix", "@sandrun-jail-test-abstract")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("LEAK"))
			c.Close()
		}
	}()
	jl, err := jail.New(jail.Options{Languages: lang.NewRegistry(lang.Options{}), Downgrade: []string{jail.DowngradeSeccomp}})
	if err != nil {
		t.Fatal(err)
	}
	defer jl.Close()
	res := run(t, jl, "python", `
import socket
def tryit(f):
    try:
        f(); return "ok"
    except OSError as e:
        return type(e).__name__ + ":" + str(e.errno)
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
print("bind", tryit(lambda: s.bind(("127.0.0.1", 0))))
print("connect", tryit(lambda: socket.socket().connect(("127.0.0.1", 1))))
u = socket.socket(socket.AF_UNIX)
print("abstract", tryit(lambda: u.connect("\0sandrun-jail-test-abstract")))
print("shm", tryit(lambda: open("/dev/shm/x", "w").write("x")))
print("proc", tryit(lambda: open("/proc/self/attr/current", "w").write("x")))
`)
	if res.Status != sandrun.StatusOK {
		t.Fatalf("%s %s %s", res.Status, res.Error, res.Stderr)
	}
	for _, line := range []string{"bind PermissionError:13", "connect PermissionError:13", "shm ok"} {
		if !strings.Contains(res.Stdout, line+"\n") {
			t.Errorf("want %q in\n%s", line, res.Stdout)
		}
	}
	if strings.Contains(res.Stdout, "abstract ok") {
		t.Errorf("reached the host's abstract socket:\n%s", res.Stdout)
	}
	if strings.Contains(res.Stdout, "proc ok") {
		t.Errorf("wrote under /proc:\n%s", res.Stdout)
	}
	if len(res.Downgrades) == 0 || !strings.HasPrefix(res.Downgrades[0], "seccomp") {
		t.Errorf("downgrade not reported: %v", res.Downgrades)
	}
}
