//go:build linux

package jail

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"

	"github.com/sandrun/sandrun/internal/cgroup"
	"golang.org/x/sys/unix"
)

// initSpawn is what vforkSpawn starts: path with argv and envp in new
// namespaces, fds[i] as descriptor i, born in its cgroup (v2) or joining
// it before its exec (v1), in a session of its own with PDEATHSIG
// SIGKILL, holding ambientCaps across the exec.
type initSpawn struct {
	flags       uintptr // CLONE_NEW* flags
	path        string
	argv, envp  []string
	fds         []int
	cgroupFD    int   // v2: the group's directory (CLONE_INTO_CGROUP); -1 for none
	tasks       []int // v1: the group's "tasks" files, which the child writes "0" to
	ambientCaps []uintptr
}

// errNoVfork: vforkSpawn is not available (a build without cgo, an
// architecture without its clone3 call, or clone3 refused); the caller
// starts the init with os/exec.
var errNoVfork = errors.New("jail: no vfork spawn here")

// spawnSteps names the child's steps (spawn_linux.h: SRJ_STEP_*).
var spawnSteps = []string{"clone", "resetting signal handlers", "setsid", "PDEATHSIG", "joining the cgroup",
	"raising ambient capabilities", "placing descriptors", "exec"}

// spawnError is a failure of vforkSpawn's clone, or of its child before
// the exec.
type spawnError struct {
	step  int
	errno syscall.Errno
}

func (e *spawnError) Error() string {
	name := fmt.Sprintf("step %d", e.step)
	if e.step >= 0 && e.step < len(spawnSteps) {
		name = spawnSteps[e.step]
	}
	return fmt.Sprintf("starting the jail init: %s: %v", name, e.errno)
}

func (e *spawnError) Unwrap() error { return e.errno }

// layer is the jail layer a failed step belongs to.
func (e *spawnError) layer() Layer {
	switch spawnSteps[min(max(e.step, 0), len(spawnSteps)-1)] {
	case "joining the cgroup":
		return LayerCgroup
	case "raising ambient capabilities":
		return LayerCapabilities
	}
	return LayerNamespaces
}

// vforkInit starts an init with vforkSpawn on a forking thread of its own
// (startIn): born in the run's cgroup without that thread entering it,
// then the uid and gid maps written (the init takes the identity when
// its config arrives: flagSetIDs). files become the init's descriptors
// 0, 1, ...; release frees the thread once the init has ended.
func (b *Backend) vforkInit(netFD int, g *cgroup.Group, flags uintptr, uid, gid uint32, files []*os.File) (init *os.Process, release func(), err error) {
	sp := &initSpawn{
		flags: flags, path: fmt.Sprintf("/proc/self/fd/%d", fdExe),
		argv: []string{"sandrun-jail-init", "__child", ChildRole}, envp: []string{initEnv},
		cgroupFD: -1,
		// The init's two, and the two it takes its identity with.
		ambientCaps: []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_SETPCAP, unix.CAP_SETUID, unix.CAP_SETGID},
	}
	for _, f := range files {
		sp.fds = append(sp.fds, int(f.Fd()))
	}
	if g != nil && g.BornInside() {
		// v2: born there (CLONE_INTO_CGROUP); v1: the child writes "0" to
		// the group's tasks files, which moves only itself (a process of
		// one thread: the kernel skips its global migration lock).
		if sp.cgroupFD, err = g.CloneFD(); err == nil && sp.cgroupFD < 0 {
			sp.tasks, err = g.JoinFiles()
		}
		if err != nil {
			return nil, nil, &SetupError{Layer: LayerCgroup, Errno: errnoOf(err), Err: err}
		}
		defer func() {
			if sp.cgroupFD >= 0 {
				unix.Close(sp.cgroupFD)
			}
			for _, t := range sp.tasks {
				unix.Close(t)
			}
		}()
	}
	pid := -1
	release, err = b.startIn(netFD, nil, func() (err error) {
		pid, err = vforkSpawn(sp)
		return err
	})
	for _, f := range files {
		runtime.KeepAlive(f) // their descriptors were passed by number
	}
	if err != nil {
		release()
		var se *spawnError
		if errors.As(err, &se) && !errors.Is(err, errNoVfork) {
			err = &SetupError{Layer: se.layer(), Errno: se.errno, Detail: "starting the jail init", Err: err}
		}
		return nil, nil, err
	}
	init, err = os.FindProcess(pid)
	if err == nil {
		err = writeIDMaps(pid, uid, gid)
	}
	if err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		_, _ = unix.Wait4(pid, &ws, 0, nil)
		release()
		return nil, nil, &SetupError{Layer: LayerNamespaces, Errno: errnoOf(err), Detail: "writing the init's uid and gid maps", Err: err}
	}
	if g != nil && !g.BornInside() {
		if err := g.Add(pid); err != nil {
			_ = init.Kill()
			_, _ = init.Wait()
			release()
			return nil, nil, &SetupError{Layer: LayerCgroup, Errno: errnoOf(err), Err: err}
		}
	}
	return init, release, nil
}

// writeIDMaps maps the one identity inside (insideID) to the run's host
// uid and gid, setgroups denied first (an unprivileged supervisor may map
// a gid only then).
func writeIDMaps(pid int, uid, gid uint32) error {
	for _, w := range [][2]string{
		{"uid_map", fmt.Sprintf("%d %d 1\n", insideID, uid)},
		{"setgroups", "deny"},
		{"gid_map", fmt.Sprintf("%d %d 1\n", insideID, gid)},
	} {
		f, err := os.OpenFile(fmt.Sprintf("/proc/%d/%s", pid, w[0]), os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		_, err = f.Write([]byte(w[1]))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", w[0], err)
		}
	}
	return nil
}
