//go:build linux

package process

import (
	"fmt"
	"os/exec"
	"runtime"
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
// first instruction. Go cannot set rlimits between fork and exec, so the
// child is started traced (PTRACE_TRACEME): the kernel stops it right
// after execve, before the new program runs; the supervisor applies the
// limits with prlimit and detaches. No window exists in which the program
// runs unlimited. The tracer must be the thread that forked, hence the
// locked OS thread.
func startLimited(cmd *exec.Cmd, lim sandrun.Limits, addressSpace bool) (int, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setsid:    true,
		Pdeathsig: syscall.SIGKILL,
		Ptrace:    true,
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
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
	if err := applyRlimits(pid, lim, addressSpace); err != nil {
		return fail(fmt.Errorf("rlimits: %w", err))
	}
	if err := unix.PtraceDetach(pid); err != nil {
		return fail(fmt.Errorf("detaching from the program: %w", err))
	}
	return pid, nil
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
