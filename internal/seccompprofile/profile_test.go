package seccompprofile

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// allowedIoctl evaluates the ioctl rules the way the kernel's filter does:
// allowed when any rule matches.
func allowedIoctl(rules []specs.LinuxSyscall, req uint64) bool {
	for _, r := range rules {
		ok := true
		for _, a := range r.Args {
			if a.Op != specs.OpMaskedEqual || req&a.Value != a.ValueTwo {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func TestIoctlRules(t *testing.T) {
	rules := ioctlRules()
	denied := map[uint64]bool{unix.TIOCSTI: true, unix.TIOCLINUX: true}
	reqs := []uint64{unix.TIOCSTI, unix.TIOCLINUX, unix.TIOCSTI | 1<<32, unix.TIOCSTI | 0xffffffff00000000,
		unix.TIOCLINUX | 1<<40, unix.TCGETS, unix.TIOCGWINSZ, 0x541b, 0x5421, unix.TIOCSCTTY, 0, 0xffffffff,
		0x5410, 0x5414, 0x541a, 0x541e, 0x5416, 0x5418}
	for x := uint64(0x5400); x < 0x5500; x++ {
		reqs = append(reqs, x)
	}
	for _, r := range reqs {
		want := !denied[r&0xffffffff]
		if got := allowedIoctl(rules, r); got != want {
			t.Errorf("ioctl %#x: allowed=%v, want %v", r, got, want)
		}
	}
}

func TestHardened(t *testing.T) {
	p, err := Hardened(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.DefaultAction != specs.ActErrno {
		t.Fatalf("default action %s", p.DefaultAction)
	}
	allowAll := map[string]bool{}
	for _, sc := range p.Syscalls {
		if sc.Action == specs.ActAllow && len(sc.Args) == 0 {
			for _, n := range sc.Names {
				allowAll[n] = true
			}
		}
	}
	for _, n := range removed {
		if allowAll[n] {
			t.Errorf("%s is allowed unconditionally", n)
		}
	}
	for _, n := range []string{"read", "write", "execve", "mmap", "futex"} {
		if !allowAll[n] {
			t.Errorf("%s is not allowed", n)
		}
	}
	js, _ := json.Marshal(p)
	if !strings.Contains(string(js), `"names":["io_uring_setup","io_uring_enter","io_uring_register"],"action":"SCMP_ACT_ERRNO","errnoRet":38`) {
		t.Errorf("io_uring is not answered ENOSYS")
	}
	g, _ := Hardened(Options{Clone3Allow: true})
	found := false
	for _, sc := range g.Syscalls {
		for _, n := range sc.Names {
			if n == "clone3" {
				found = sc.Action == specs.ActAllow
			}
		}
	}
	if !found {
		t.Error("Clone3Allow did not allow clone3")
	}
}

// TestNativeOnly: the native architecture alone, first in Docker's list.
func TestNativeOnly(t *testing.T) {
	all, err := Hardened(Options{})
	if err != nil {
		t.Fatal(err)
	}
	native, err := Hardened(Options{NativeOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(native.Architectures) != 1 || len(all.Architectures) == 0 || native.Architectures[0] != all.Architectures[0] {
		t.Fatalf("native %v, all %v", native.Architectures, all.Architectures)
	}
	if runtime.GOARCH == "amd64" && native.Architectures[0] != specs.ArchX86_64 {
		t.Fatalf("native on amd64: %v", native.Architectures)
	}
}
