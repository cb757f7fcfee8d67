//go:build linux

package jail

import (
	"encoding/json"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// zygoteInitName is argv[0] of a zygote's init. The role is the jail
// init's (ChildRole), so every binary that dispatches it runs zygotes
// too; ChildMain hands a process with this name to zygoteInitMain.
const zygoteInitName = "sandrun-jail-zygote"

// isZygoteInit reports whether this process was started as a zygote's init.
func isZygoteInit() bool { return len(os.Args) > 0 && os.Args[0] == zygoteInitName }

// zygoteCaps are the only capabilities the zygote program keeps (in its
// own user namespace): enough to give each child its own uid of the
// zygote's range. Everything else a child needs it gets from the user
// namespace it creates for itself.
var zygoteCaps = []uintptr{unix.CAP_SETUID, unix.CAP_SETGID}

// zygoteInitMain is pid 1 of a zygote jail. It builds the same view as a
// cold jail (setupFS: the read-only runtime binds, /dev, /etc, pivot_root),
// leaves /proc a plain procfs (each child mounts its own over it, which
// the kernel allows only while an unobstructed procfs is visible), starts
// the zygote program with fd 3 (the channel to the supervisor) and the
// capabilities in zygoteCaps only, and then reaps every process until
// none is left: runs in flight outlive a zygote that dies.
func zygoteInitMain() int {
	unix.Close(fdExe)
	// fd 3 goes to the zygote program; the init talks on a duplicate.
	dup, err := unix.FcntlInt(fdSync, unix.F_DUPFD_CLOEXEC, 10)
	if err != nil {
		return 70
	}
	f := os.NewFile(uintptr(dup), "sync")
	fc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return 70
	}
	c := fc.(*net.UnixConn)
	report := func(e *zfail) int {
		_ = writeFrame(c, msgError, encodeSetupError(e.layer, uint16(e.step), e.err))
		return 71
	}
	kind, payload, fds, err := readFrame(c)
	if err != nil || kind != msgConfig {
		return report(zerr(LayerProtocol, 1, unix.EPROTO))
	}
	var cfg zygoteConfig
	if err := json.Unmarshal(payload, &cfg); err != nil {
		return report(zerr(LayerProtocol, 2, unix.EPROTO))
	}
	// Caught, not ignored: an ignored signal would stay ignored in the
	// zygote and every program it forks.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGUSR1,
		syscall.SIGUSR2, syscall.SIGPIPE, syscall.SIGALRM, syscall.SIGTSTP, syscall.SIGTTIN,
		syscall.SIGTTOU, syscall.SIGXCPU, syscall.SIGXFSZ, syscall.SIGVTALRM, syscall.SIGPROF,
		syscall.SIGWINCH, syscall.SIGIO, syscall.SIGPWR)
	go func() {
		for range sigs {
		}
	}()
	if e := zygoteView(&cfg, fds); e != nil {
		return report(e)
	}
	closeAll(fds)
	if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
		return report(zerr(LayerHostname, 1, err))
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return report(zerr(LayerCapabilities, 1, err))
	}
	// fd 3 shares its file description with the init's duplicate, which
	// Go's poller made non-blocking: the zygote program reads it blocking.
	if err := unix.SetNonblock(fdSync, false); err != nil {
		return report(zerr(LayerProtocol, 3, err))
	}
	// The bounding set is per thread: this one, locked for good (the
	// zygote's PDEATHSIG follows the thread that forked it), drops what
	// the zygote must not have and forks it.
	runtime.LockOSThread()
	pid, e := startZygote(&cfg)
	if e != nil {
		return report(e)
	}
	// A handle on the zygote lets the supervisor replace it alone,
	// without ending the runs it forked.
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return report(zerr(LayerExec, 3, err))
	}
	_ = writeFrame(c, msgStarted, u32(uint32(pid)), pidfd)
	unix.Close(pidfd)
	c.Close()
	unix.Close(fdSync)
	for {
		_, err := unix.Wait4(-1, nil, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil { // ECHILD: the zygote and every run it forked are gone
			return 0
		}
	}
}

// startZygote starts the zygote program from the calling (locked)
// thread: its bounding set keeps only zygoteCaps, its ambient set exactly
// them.
func startZygote(cfg *zygoteConfig) (int, *zfail) {
	keep := map[uintptr]bool{}
	for _, c := range zygoteCaps {
		keep[c] = true
	}
	last := 40
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			last = n
		}
	}
	for c := uintptr(0); c <= uintptr(last); c++ {
		if keep[c] {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, c, 0, 0, 0); err != nil && err != unix.EINVAL {
			return 0, zerr(LayerCapabilities, 10+int(c), err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return 0, zerr(LayerCapabilities, 2, err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return 0, zerr(LayerNoNewPrivs, 1, err)
	}
	pid, err := syscall.ForkExec(cfg.Argv[0], cfg.Argv, &syscall.ProcAttr{
		Dir:   "/",
		Env:   cfg.Env,
		Files: []uintptr{0, 1, 2, fdSync},
		Sys:   &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL, AmbientCaps: zygoteCaps},
	})
	if err != nil {
		return 0, zerr(LayerExec, 2, err)
	}
	return pid, nil
}
