//go:build linux

package jail

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// jailNSFlags are the namespaces every jail gets in its one clone. The
// network namespace is either joined (the shared empty one, see netNS) or
// added here per run; the cgroup namespace is unshared by the init once
// it sits in its cgroup.
const jailNSFlags = unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS

// insideID is the one uid and gid inside every jail.
const insideID = 1000

// netNS is one empty network namespace (only a down loopback) created at
// startup and joined by every jail. Creating a network namespace is slow
// and serialises in the kernel; joining one is cheap. Sharing it is safe
// only with Landlock's abstract-socket scoping (ABI 6) and the seccomp
// rule that leaves only AF_UNIX sockets: nothing else in a network
// namespace is reachable without IP sockets.
type netNS struct {
	fd   int // the shared namespace
	orig int // the supervisor's own, to return the forking thread to
}

func newNetNS() (*netNS, error) {
	type res struct {
		n   *netNS
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- res{nil, err}
			return
		}
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			unix.Close(orig)
			runtime.UnlockOSThread()
			ch <- res{nil, fmt.Errorf("unshare(CLONE_NEWNET): %w", err)}
			return
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if rerr := unix.Setns(orig, unix.CLONE_NEWNET); rerr != nil {
			// The thread stays in the new namespace: let it die with
			// this goroutine rather than return to the pool.
			ch <- res{nil, fmt.Errorf("returning to the host network namespace: %w", rerr)}
			return
		}
		runtime.UnlockOSThread()
		if err != nil {
			unix.Close(orig)
			ch <- res{nil, err}
			return
		}
		ch <- res{&netNS{fd: fd, orig: orig}, nil}
	}()
	r := <-ch
	return r.n, r.err
}

// startIn runs start on a thread that has joined the namespace, so that
// the child it forks is born there, then returns the thread. If the
// thread cannot return it is discarded, which kills the child (its
// PDEATHSIG follows the forking thread): fail closed.
func (n *netNS) startIn(start func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(n.fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- &SetupError{Layer: LayerNamespaces, Errno: errnoOf(err), Detail: "joining the shared network namespace"}
			return
		}
		err := start()
		if rerr := unix.Setns(n.orig, unix.CLONE_NEWNET); rerr != nil {
			ch <- &SetupError{Layer: LayerNamespaces, Errno: errnoOf(rerr), Detail: "returning to the host network namespace"}
			return // exit locked: the thread is destroyed
		}
		runtime.UnlockOSThread()
		ch <- err
	}()
	return <-ch
}

func (n *netNS) close() {
	unix.Close(n.fd)
	unix.Close(n.orig)
}

func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return 0
}

// uidSlots hands out host uids, one per concurrent jail, across every
// supervisor process on the host: slot n is held by an flock on
// <dir>/<n>, which the kernel drops if the holder dies, so nothing needs
// sweeping.
type uidSlots struct {
	dir   string
	base  uint32
	count uint32
}

func newUIDSlots(dir string, base, count uint32) (*uidSlots, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &uidSlots{dir: dir, base: base, count: count}, nil
}

// acquire takes a free slot and returns its host uid and a release.
func (s *uidSlots) acquire() (uint32, func(), error) {
	var r [4]byte
	_, _ = rand.Read(r[:])
	start := binary.BigEndian.Uint32(r[:]) % s.count
	for i := uint32(0); i < s.count; i++ {
		n := (start + i) % s.count
		p := filepath.Join(s.dir, strconv.FormatUint(uint64(n), 10))
		fd, err := unix.Open(p, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return 0, nil, fmt.Errorf("uid slot: %w", err)
		}
		if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
			unix.Close(fd)
			continue
		}
		return s.base + n, func() { unix.Close(fd) }, nil
	}
	return 0, nil, fmt.Errorf("all %d jail uids are in use", s.count)
}

// stateDir is where the supervisor keeps its slot locks.
func stateDir() string {
	if os.Getuid() == 0 {
		return "/run/sandrun-jail"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "sandrun-jail")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("sandrun-jail-%d", os.Getuid()))
}
