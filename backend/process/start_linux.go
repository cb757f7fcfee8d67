//go:build linux

package process

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"sync"
	"syscall"

	"github.com/sandrun/sandrun"
	"golang.org/x/sys/unix"
)

func platformCheck() error { return nil }

// closeInheritedFDs marks every descriptor above 2 close-on-exec. Go opens
// its own files with O_CLOEXEC, but descriptors the supervisor inherited
// from its parent (a shell, a CI runner) stay open across exec and would
// reach the program. Only 0, 1 and 2 may.
func closeInheritedFDs() error {
	return unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
}

// startLimited starts cmd with its rlimits in force before the program's
// first instruction, under id's uid, in id's cgroup and view. Go cannot
// set rlimits between fork and exec, so the child is started traced
// (PTRACE_TRACEME): the kernel stops it right after execve, before the new
// program runs; the supervisor moves it into the cgroup, applies the
// limits with prlimit and detaches. No window exists in which the program
// runs unlimited or outside its cgroup.
//
// The fork happens on a locked OS thread of its own: the tracer must be
// the thread that forked; PR_SET_PDEATHSIG fires when that thread ends, so
// it stays until the program has been waited for (call the returned
// letGo then); and entering the view (setns) and taking the program's uid
// for prlimit change the thread itself, so such a thread is never handed
// back to the Go runtime: it ends with its goroutine.
func startLimited(cmd *exec.Cmd, lim sandrun.Limits, addressSpace bool, id *identity) (pid int, letGo func(), err error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setsid:    true,
		Pdeathsig: syscall.SIGKILL,
		Ptrace:    true,
	}
	if id.uid >= 0 {
		// No supplementary groups: an empty list clears them.
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(id.uid), Gid: uint32(id.gid), Groups: []uint32{}}
	}
	type started struct {
		pid int
		err error
	}
	ch := make(chan started, 1)
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		if id.view == nil && id.uid < 0 {
			defer runtime.UnlockOSThread()
		}
		pid, err := startOnThread(cmd, lim, addressSpace, id)
		ch <- started{pid, err}
		if err == nil {
			<-done
		}
	}()
	r := <-ch
	if r.err != nil {
		return 0, nil, r.err
	}
	var once sync.Once
	return r.pid, func() { once.Do(func() { close(done) }) }, nil
}

func startOnThread(cmd *exec.Cmd, lim sandrun.Limits, addressSpace bool, id *identity) (int, error) {
	if id.view != nil {
		// setns into a mount namespace needs a thread that shares its
		// filesystem attributes with no other.
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			return 0, fmt.Errorf("view: unshare: %w", err)
		}
		if err := unix.Setns(id.view.fd, unix.CLONE_NEWNS); err != nil {
			return 0, fmt.Errorf("view: setns: %w", err)
		}
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	pid := cmd.Process.Pid
	fail := func(err error) (int, error) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		_ = cmd.Wait()
		return 0, err
	}
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fail(fmt.Errorf("waiting for the exec stop: %w", err))
		}
		break
	}
	if !ws.Stopped() {
		return fail(fmt.Errorf("program did not stop after exec (status %v)", ws))
	}
	if id.group != nil {
		if err := id.group.Add(pid); err != nil {
			return fail(fmt.Errorf("cgroup: %w", err))
		}
	}
	if err := asUID(id.uid, id.gid, func() error { return applyRlimits(pid, lim, addressSpace) }); err != nil {
		return fail(fmt.Errorf("rlimits: %w", err))
	}
	if err := unix.PtraceDetach(pid); err != nil {
		return fail(fmt.Errorf("detaching from the program: %w", err))
	}
	return pid, nil
}

// asUID runs fn on this thread with real and effective uid and gid set
// to uid and gid (saved ones stay 0, so the thread can go back). prlimit
// on another process needs CAP_SYS_RESOURCE, which a root supervisor may
// lack (containers drop it), or the caller's real ids matching the
// target's: the program's. Raw system calls: Go's wrappers would change
// every thread of the supervisor. uid < 0: fn as is.
func asUID(uid, gid int, fn func() error) error {
	if uid < 0 {
		return fn()
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(gid), uintptr(gid), 0); e != 0 {
		return fmt.Errorf("setresgid: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), 0); e != 0 {
		_, _, _ = unix.RawSyscall(unix.SYS_SETRESGID, 0, 0, 0)
		return fmt.Errorf("setresuid: %w", e)
	}
	err := fn()
	_, _, e1 := unix.RawSyscall(unix.SYS_SETRESUID, 0, 0, 0)
	_, _, e2 := unix.RawSyscall(unix.SYS_SETRESGID, 0, 0, 0)
	if e1 != 0 || e2 != 0 {
		// The thread is never reused (startLimited), but say so.
		return errors.Join(err, fmt.Errorf("restoring the thread's root ids: %w %w", e1, e2))
	}
	return err
}

// applyRlimitsAs applies rlimits to a running program of id's, taking
// its uid on a thread that is never handed back to the runtime.
func applyRlimitsAs(id *identity, pid int, lim sandrun.Limits, addressSpace bool) error {
	if id.uid < 0 {
		return applyRlimits(pid, lim, addressSpace)
	}
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		ch <- asUID(id.uid, id.gid, func() error { return applyRlimits(pid, lim, addressSpace) })
	}()
	return <-ch
}

func applyRlimits(pid int, lim sandrun.Limits, addressSpace bool) error {
	cpu := uint64((lim.CPUTime.D() + 999_999_999) / 1_000_000_000) // whole seconds, rounded up
	set := []struct {
		name     string
		res      int
		soft, hd uint64
	}{
		// SIGXCPU at the soft limit, SIGKILL a second later.
		{"RLIMIT_CPU", unix.RLIMIT_CPU, cpu, cpu + 1},
		{"RLIMIT_FSIZE", unix.RLIMIT_FSIZE, uint64(lim.FileSize), uint64(lim.FileSize)},
		{"RLIMIT_NPROC", unix.RLIMIT_NPROC, uint64(lim.Processes), uint64(lim.Processes)},
		{"RLIMIT_NOFILE", unix.RLIMIT_NOFILE, uint64(lim.OpenFiles), uint64(lim.OpenFiles)},
		{"RLIMIT_CORE", unix.RLIMIT_CORE, 0, 0},
	}
	if addressSpace {
		set = append(set, struct {
			name     string
			res      int
			soft, hd uint64
		}{"RLIMIT_AS", unix.RLIMIT_AS, uint64(lim.Memory), uint64(lim.Memory)})
	}
	for _, s := range set {
		rl := unix.Rlimit{Cur: s.soft, Max: s.hd}
		if err := unix.Prlimit(pid, s.res, &rl, nil); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}
