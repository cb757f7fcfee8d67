//go:build linux

package jail

import (
	"encoding/binary"
	"math"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The end of a guest child's run (guest_linux.go): its report and streams,
// or its pidfd; the CPU it used before its run.

// guestEnd waits for the end of a guest child's run: its pidfd, or (a run
// with guestStart.ended) the guest closing its streams and channel once
// it reported its run over. That takes the process's teardown (unmapping
// a fork of the zygote: about a millisecond) off the run's path: the
// child is killed then, whatever it was doing, and its end taken as a
// plain exit (the guest's report says how the program ended; a guest that
// closes them early only ends its run early). early says which end it was.
func (r *warmRun) guestEnd() (ws unix.WaitStatus, early bool) {
	ended := r.guest.ended
	// The pidfd is watched on a duplicate of its own, closed by the
	// watcher: the run's is closed at cleanup, which may come first.
	dup := -1
	if ended != nil {
		dup, _ = unix.FcntlInt(uintptr(r.pidfd), unix.F_DUPFD_CLOEXEC, 0)
	}
	if dup < 0 {
		pollIn(r.pidfd)
		return guestExitStatus(r.pidfd), false
	}
	exited := make(chan struct{})
	go func() {
		defer unix.Close(dup)
		pollIn(dup)
		close(exited)
	}()
	select {
	case <-exited:
	case <-ended:
		select {
		case <-exited: // both: the process's own status
		default:
			// Its one process (it cannot fork): the signal is enough on
			// the run's path; cleanup kills what its cgroup holds.
			r.mu.Lock()
			_ = unix.PidfdSendSignal(r.pidfd, unix.SIGKILL, nil, 0)
			r.mu.Unlock()
			return 0, true
		}
	}
	return guestExitStatus(r.pidfd), false
}

// pollIn waits until fd is readable (a pidfd: its process ended).
func pollIn(fd int) { pollInFor(fd, -1) }

// pollInFor waits until fd is readable, at most ms milliseconds (-1: no
// bound).
func pollInFor(fd, ms int) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, ms); err != unix.EINTR {
			return
		}
	}
}

// guestCPUBefore is the CPU a guest child used before its run (its setup
// and warm-up: not the run's usage, nor counted against its CPU limit),
// from its start frame: [pid u32][CPU ns u64], as the child says, and
// never more than its cgroup had used by the time the frame came. 0 for
// other children.
func (r *warmRun) guestCPUBefore(payload []byte) time.Duration {
	if r.guest == nil || len(payload) < 12 || r.cg == nil {
		return 0
	}
	said := time.Duration(min(binary.BigEndian.Uint64(payload[4:12]), math.MaxInt64))
	return min(said, r.cg.CPU())
}

// pidfdInfo is struct pidfd_info (linux/pidfd.h, the first version: 64
// bytes, exit_code included since Linux 6.15).
type pidfdInfo struct {
	Mask, CgroupID                                                    uint64
	Pid, Tgid, Ppid, Ruid, Rgid, Euid, Egid, Suid, Sgid, Fsuid, Fsgid uint32
	ExitCode                                                          int32
}

const (
	pidfdInfoExit = 1 << 3 // PIDFD_INFO_EXIT
	// PIDFD_GET_INFO: _IOWR(PIDFS_IOCTL_MAGIC 0xFF, 11, struct pidfd_info).
	pidfdGetInfo = 3<<30 | uintptr(unsafe.Sizeof(pidfdInfo{}))<<16 | 0xFF<<8 | 11
)

// guestExitStatus is the wait status of a guest child that has ended,
// read through its pidfd (PIDFD_GET_INFO, Linux 6.15+; the zygote, its
// parent, lets the kernel reap it). Where the kernel cannot say, it is a
// plain exit: how the program ended is then the guest's report alone.
func guestExitStatus(pidfd int) unix.WaitStatus {
	for i := 0; i < 20; i++ {
		info := pidfdInfo{Mask: pidfdInfoExit}
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(pidfd), pidfdGetInfo, uintptr(unsafe.Pointer(&info)))
		if e != 0 {
			break // an older kernel
		}
		if info.Mask&pidfdInfoExit != 0 {
			return unix.WaitStatus(info.ExitCode)
		}
		time.Sleep(time.Millisecond) // exited, not yet released
	}
	return 0
}
