//go:build linux

package jail

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/sandrun/sandrun/internal/cgroup"
	"github.com/sandrun/sandrun/internal/uidslot"
	"golang.org/x/sys/unix"
)

// jailNSFlags are the namespaces every jail gets in its one clone. The
// network namespace is either a fresh one from the pool (see netPool),
// joined by the forking thread, or added here per run; the cgroup
// namespace is unshared by the init once it sits in its cgroup.
const jailNSFlags = unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS

// insideID is the one uid and gid inside every jail.
const insideID = 1000

// netPool hands every jail a network namespace of its own: empty, with
// only a loopback device (down), used once. Creating a network namespace
// costs about a millisecond and serialises in the kernel, so a background
// goroutine makes a few ahead of time; a run that finds the pool empty
// makes its own on the forking thread. The namespaces are owned by the
// host's user namespace, so nothing inside a jail can configure them.
//
// Each run having its own namespace keeps runs apart where the namespace
// is the boundary: /proc/net (unix sockets, with abstract names and
// paths, of every process in the namespace) and the abstract socket
// names themselves (Landlock's scoping refuses connect too).
type netPool struct {
	orig    int      // the supervisor's own namespace, to return the forking thread to
	ready   chan int // fds of fresh namespaces
	closing chan struct{}
	done    chan struct{}
	logger  *slog.Logger
}

// newNetPool checks that this process may make network namespaces (it
// makes the first one now) and starts the refill. size is how many are
// kept ready.
func newNetPool(size int, logger *slog.Logger) (*netPool, error) {
	orig, err := unix.Open("/proc/self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	n := &netPool{orig: orig, ready: make(chan int, size), closing: make(chan struct{}), done: make(chan struct{}), logger: logger}
	fd, err := n.make()
	if err != nil {
		unix.Close(orig)
		return nil, err
	}
	n.ready <- fd
	go n.refill()
	return n, nil
}

// make creates one namespace on a locked thread and returns the thread
// to the supervisor's namespace. A thread that cannot return is
// discarded (the goroutine ends locked), never reused.
func (n *netPool) make() (int, error) {
	type res struct {
		fd  int
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- res{-1, fmt.Errorf("unshare(CLONE_NEWNET): %w", err)}
			return
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if rerr := unix.Setns(n.orig, unix.CLONE_NEWNET); rerr != nil {
			if err == nil {
				unix.Close(fd)
			}
			ch <- res{-1, fmt.Errorf("returning to the host network namespace: %w", rerr)}
			return
		}
		runtime.UnlockOSThread()
		ch <- res{fd, err}
	}()
	r := <-ch
	return r.fd, r.err
}

// refill keeps the pool full until close.
func (n *netPool) refill() {
	defer close(n.done)
	for {
		select {
		case <-n.closing:
			return
		default:
		}
		fd, err := n.make()
		if err != nil {
			n.logger.Warn("jail: making a network namespace ahead of time", "err", err)
			select {
			case <-n.closing:
				return
			case <-time.After(time.Second):
				continue
			}
		}
		select {
		case n.ready <- fd:
		case <-n.closing:
			unix.Close(fd)
			return
		}
	}
}

// take returns a fresh namespace's fd (the caller closes it once the
// init is born in it): one made ahead of time, or a new one.
func (n *netPool) take() (int, error) {
	select {
	case fd := <-n.ready:
		return fd, nil
	default:
	}
	return n.make()
}

func (n *netPool) close() {
	close(n.closing)
	<-n.done
	for {
		select {
		case fd := <-n.ready:
			unix.Close(fd)
			continue
		default:
		}
		break
	}
	unix.Close(n.orig)
}

// startIn runs start on an OS thread of its own that has joined the
// network namespace netFD (-1: stays in the supervisor's) and the cgroup g
// (v1: the thread moves itself in, see cgroup.Group.Enter; v2: start clones
// into it), so that the init start forks is born in both. The thread then
// moves back out of the cgroup and stays parked, locked to its goroutine,
// until release is called (once the init is gone); then it returns to the
// supervisor's network namespace and to the Go runtime.
//
// A thread of its own because the init's PDEATHSIG follows the thread
// that forked it: a thread the Go runtime shares could be destroyed while
// the init lives (any goroutine that ends locked to its thread destroys
// it; the process tier's do), which would kill the run. Returned, never
// destroyed, for the same reason the other way round: a goroutine locks
// whichever thread it runs on, which may be the parent of someone else's
// child (the warm path's zygote). Only a thread whose state cannot be
// restored is destroyed.
//
// Born there rather than moved there: moving a process into a cgroup
// takes the kernel's cgroup_threadgroup_rwsem for writing, which waits
// for an RCU grace period (about 10 ms, more under load) whenever no
// other migration ran just before; a thread moving itself does not.
func (b *Backend) startIn(netFD int, g *cgroup.Group, start func() error) (release func(), err error) {
	ch := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		restored := true // the thread is in the supervisor's namespaces and cgroups
		defer func() {
			<-done
			if restored {
				runtime.UnlockOSThread()
			} // else: ends locked, so the runtime destroys the thread
		}()
		if netFD >= 0 {
			if err := unix.Setns(netFD, unix.CLONE_NEWNET); err != nil {
				ch <- &SetupError{Layer: LayerNamespaces, Errno: errnoOf(err), Detail: "joining the run's network namespace"}
				return
			}
			defer func() {
				if err := unix.Setns(b.net.orig, unix.CLONE_NEWNET); err != nil {
					restored = false
				}
			}()
		}
		var leave func() error
		if g != nil {
			var err error
			if leave, err = g.Enter(); err != nil {
				restored = false // it may sit in part of the group
				ch <- &SetupError{Layer: LayerCgroup, Errno: errnoOf(err), Err: err}
				return
			}
		}
		err := start()
		if leave != nil {
			// Out of the run's group, so that the group can be removed
			// while this thread still waits.
			if lerr := leave(); lerr != nil {
				restored = false
				if err == nil {
					err = &SetupError{Layer: LayerCgroup, Errno: errnoOf(lerr), Detail: "moving the forking thread back", Err: lerr}
				}
			}
		}
		ch <- err
	}()
	release = sync.OnceFunc(func() { close(done) })
	if err := <-ch; err != nil {
		return release, err
	}
	return release, nil
}

func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return 0
}

// uidSlots hands out host uids, one per concurrent jail, across every
// supervisor process on the host: internal/uidslot's flock'd slots, which
// the kernel drops if the holder dies, so nothing needs sweeping. (The
// process tier takes its uids the same way, from a range of its own.)
type uidSlots struct{ p *uidslot.Pool }

func newUIDSlots(dir string, base, count uint32) (*uidSlots, error) {
	p, err := uidslot.New(dir, base, count)
	if err != nil {
		return nil, err
	}
	return &uidSlots{p: p}, nil
}

// acquire takes a free slot and returns its host uid and a release.
func (s *uidSlots) acquire() (uint32, func(), error) { return s.p.Acquire() }

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
