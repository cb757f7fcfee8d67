//go:build linux

package netproxy

import (
	"fmt"
	"net"
	"runtime"

	"golang.org/x/sys/unix"
)

// ListenIn opens a TCP listener on addr (a loopback address such as
// 127.0.0.1:3128) inside the network namespace at nsPath
// (/proc/<pid>/ns/net), bringing that namespace's loopback device up
// first. The socket belongs to that namespace for its whole life, while
// the proxy serving it runs in the supervisor: the program reaches the
// proxy at a loopback address of its own namespace and nothing else.
//
// It works on a locked OS thread that joins the namespace and returns; a
// thread that cannot return is discarded (its goroutine ends locked),
// never handed back to the Go scheduler. Joining needs CAP_SYS_ADMIN over
// the namespace (root).
func ListenIn(nsPath, addr string) (net.Listener, error) {
	target, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening the run's network namespace: %w", err)
	}
	defer unix.Close(target)
	type res struct {
		l   net.Listener
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
		defer unix.Close(orig)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- res{nil, fmt.Errorf("joining the run's network namespace: %w", err)}
			return
		}
		var l net.Listener
		err = loopbackUp()
		if err == nil {
			l, err = net.Listen("tcp", addr)
		}
		if rerr := unix.Setns(orig, unix.CLONE_NEWNET); rerr != nil {
			if l != nil {
				l.Close()
			}
			ch <- res{nil, fmt.Errorf("returning to the supervisor's network namespace: %w", rerr)}
			return // ends locked: the thread is destroyed
		}
		runtime.UnlockOSThread()
		ch <- res{l, err}
	}()
	r := <-ch
	return r.l, r.err
}

// loopbackUp sets IFF_UP on lo in the calling thread's namespace (a new
// namespace has it down, with no address until it is up).
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback flags: %w", err)
	}
	if ifr.Uint16()&unix.IFF_UP != 0 {
		return nil
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing loopback up: %w", err)
	}
	return nil
}
