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

	"github.com/sandrun/sandrun/internal/workdir"
	"golang.org/x/sys/unix"
)

// ChildRole is the argument that makes the sandrun binary the jail's init
// (cmd/sandrun's childMain dispatches it: sandrun __child jail-init).
const ChildRole = "jail-init"

// Fds the supervisor passes to the init.
const (
	fdSync = 3 // the sync socket (doc.go)
	fdExe  = 4 // the init's own executable, exec'd through /proc/self/fd
)

// ChildMain is the jail init: pid 1 of the jail's pid namespace. It reads
// its config from the sync socket, builds the jail, starts the program
// on a restricted thread, reaps every process and reports the end. It
// writes nothing to stdout or stderr: those belong to the program.
func ChildMain(_ []string) int {
	if isZygoteInit() {
		return zygoteInitMain()
	}
	unix.CloseOnExec(fdSync)
	unix.Close(fdExe)
	f := os.NewFile(fdSync, "sync")
	fc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return 70
	}
	c := fc.(*net.UnixConn)
	report := func(e *stepError) int {
		_ = writeFrame(c, msgError, encodeSetupError(e.layer, e.step, e.err))
		return 71
	}
	kind, payload, fds, err := readFrame(c)
	if err != nil || kind != msgConfig {
		return report(fail(LayerProtocol, 1, unix.EPROTO))
	}
	var cfg initConfig
	if err := json.Unmarshal(payload, &cfg); err != nil {
		return report(fail(LayerProtocol, 2, unix.EPROTO))
	}
	// Progress frames name the layer a setup that hangs is stuck in.
	progress := func(l Layer) { _ = writeFrame(c, msgProgress, u16(uint16(l))) }
	progress(LayerMounts)
	// Signals from inside the jail must not end the init (Landlock's
	// signal scoping already refuses them; this covers a downgraded
	// Landlock). Catching them, rather than ignoring them, matters: an
	// ignored signal stays ignored across exec, and the program must
	// start with default dispositions (python needs SIGINT).
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGUSR1,
		syscall.SIGUSR2, syscall.SIGPIPE, syscall.SIGALRM, syscall.SIGTSTP, syscall.SIGTTIN,
		syscall.SIGTTOU, syscall.SIGXCPU, syscall.SIGXFSZ, syscall.SIGVTALRM, syscall.SIGPROF,
		syscall.SIGWINCH, syscall.SIGIO, syscall.SIGPWR)
	go func() {
		for range sigs {
		}
	}()
	if e := setupFS(&cfg, fds); e != nil {
		return report(e)
	}
	for _, fd := range fds {
		unix.Close(fd)
	}
	if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
		return report(fail(LayerHostname, 1, err))
	}
	// Not dumpable: the program (same uid) cannot open /proc/1/mem or
	// read the init's environment.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return report(fail(LayerCapabilities, 1, err))
	}
	progress(LayerCgroupNS)
	started := make(chan startResult, 1)
	onNonLeaderThread(func() { startProgram(&cfg, started, func() { progress(LayerExec) }) })
	st := <-started
	if st.err != nil {
		return report(st.err)
	}
	_ = writeFrame(c, msgStarted, u32(uint32(st.pid)))
	go forwardSignals(c, st.pid)
	status := reap(st.pid)
	_ = writeFrame(c, msgExited, u32(uint32(status)))
	if len(cfg.Collect) > 0 {
		files, err := workdir.Collect("/work", cfg.Collect, workdir.CollectLimits{MaxFile: cfg.CollectMax, MaxTotal: cfg.CollectTotal})
		if err != nil {
			return report(fail(LayerCollect, 1, unix.EIO))
		}
		b, _ := json.Marshal(files)
		_ = writeFrame(c, msgFiles, b)
	}
	return 0
}

// reap waits for every child. When the program (pid) ends, everything
// else in the namespace is killed (daemons, forgotten children) and
// reaped too; the program's wait status is returned.
func reap(pid int) unix.WaitStatus {
	var status unix.WaitStatus
	programDone := false
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil { // ECHILD: nothing is left
			return status
		}
		if wpid == pid && !programDone {
			programDone, status = true, ws
			// -1 from pid 1 means every process of the namespace but
			// the init itself.
			_ = unix.Kill(-1, unix.SIGKILL)
		}
	}
}

// forwardSignals relays Launcher.Signal requests to the program's
// process group (the program leads its own session).
func forwardSignals(c *net.UnixConn, pid int) {
	for {
		kind, p, _, err := readFrame(c)
		if err != nil {
			return
		}
		if sig, ok := getU32(p); ok && kind == msgSignal && sig > 0 && sig < 65 {
			_ = unix.Kill(-pid, unix.Signal(sig))
		}
	}
}

type startResult struct {
	pid int
	err *stepError
}

// onNonLeaderThread runs f on a locked OS thread that is not the thread
// group leader, and never unlocks it. Restrictions (seccomp, Landlock,
// capabilities, cgroup namespace) are per thread: the program inherits
// them from the thread that forks it, while the init's leader thread,
// which receives process-directed signals, stays outside the program's
// Landlock domain.
func onNonLeaderThread(f func()) {
	var run func()
	run = func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// Hold the leader so the next goroutine lands elsewhere.
			go run()
			select {}
		}
		f()
		select {} // keep the thread: the program's PDEATHSIG is tied to it
	}
	go run()
}

// startProgram applies the per-thread layers and forks the program. It
// runs on the restricted thread.
func startProgram(cfg *initConfig, out chan<- startResult, execing func()) {
	res := func(pid int, e *stepError) { out <- startResult{pid, e} }
	// A cgroup namespace rooted at the jail's own cgroup (the
	// supervisor moved the init there before sending the config).
	if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
		res(0, fail(LayerCgroupNS, 1, err))
		return
	}
	if e := dropBounding(); e != nil {
		res(0, e)
		return
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		res(0, fail(LayerNoNewPrivs, 1, err))
		return
	}
	if !cfg.NoLandlock {
		abi := landlockABI()
		if abi < 1 || (abi < 6 && !cfg.LandlockPartial) {
			res(0, fail(LayerLandlock, 1, unix.EOPNOTSUPP))
			return
		}
		r := rightsFor(abi)
		var runtimePaths []string
		for _, b := range cfg.Binds {
			if b.Symlink == "" {
				runtimePaths = append(runtimePaths, b.Path)
			}
		}
		if step, err := applyLandlock(abi, landlockPolicy(r, runtimePaths), r, cfg.NetPort); err != nil {
			res(0, fail(LayerLandlock, int(step), err))
			return
		}
	}
	if !cfg.NoSeccomp {
		prog, err := buildFilterFor(cfg.NetPort != 0)
		if err != nil {
			res(0, fail(LayerSeccomp, 1, unix.EOPNOTSUPP))
			return
		}
		if err := installSeccomp(prog); err != nil {
			res(0, fail(LayerSeccomp, 2, err))
			return
		}
	}
	if err := clearCaps(); err != nil {
		res(0, fail(LayerCapabilities, 3, err))
		return
	}
	if e := setRlimits(cfg); e != nil {
		res(0, e)
		return
	}
	// Only 0, 1 and 2 reach the program.
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		res(0, fail(LayerExec, 1, err))
		return
	}
	execing()
	pid, err := syscall.ForkExec(cfg.Argv[0], cfg.Argv, &syscall.ProcAttr{
		Dir:   "/work",
		Env:   cfg.Env,
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		res(0, fail(LayerExec, 2, err))
		return
	}
	if cfg.AddressSpace > 0 {
		// Only with the cgroup layer downgraded. Set on the program
		// alone, just after the fork: the Go runtime of the init would
		// not survive a tight RLIMIT_AS of its own. The program is still
		// exec'ing its interpreter at this point.
		if err := unix.Prlimit(pid, unix.RLIMIT_AS, &unix.Rlimit{Cur: cfg.AddressSpace, Max: cfg.AddressSpace}, nil); err != nil {
			_ = unix.Kill(pid, unix.SIGKILL)
			res(0, fail(LayerRlimits, 9, err))
			return
		}
	}
	res(pid, nil)
}

// dropBounding empties the bounding and ambient sets of this thread.
func dropBounding() *stepError {
	last := 40
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			last = n
		}
	}
	for c := 0; c <= last; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && err != unix.EINVAL {
			return fail(LayerCapabilities, 10+c, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fail(LayerCapabilities, 2, err)
	}
	return nil
}

// clearCaps empties the effective, permitted and inheritable sets of this
// thread.
func clearCaps() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	return unix.Capset(&hdr, &data[0])
}

// setRlimits sets the per-process limits just before the fork. They are
// process-wide, so the init carries them too; none of them bind what the
// init still does (wait, kill, read /work).
func setRlimits(cfg *initConfig) *stepError {
	set := []struct {
		res int
		v   uint64
	}{
		{unix.RLIMIT_CORE, 0},
		{unix.RLIMIT_NOFILE, cfg.OpenFiles},
		{unix.RLIMIT_FSIZE, cfg.FileSize},
		{unix.RLIMIT_CPU, cfg.CPUSeconds},
		// A bounded stack whatever the supervisor's own limit is.
		{unix.RLIMIT_STACK, 8 << 20},
	}
	for i, s := range set {
		if s.v == 0 && s.res != unix.RLIMIT_CORE {
			continue
		}
		hard := s.v
		if s.res == unix.RLIMIT_CPU {
			hard = s.v + 1 // SIGXCPU at the soft limit, SIGKILL one second later
		}
		if err := unix.Setrlimit(s.res, &unix.Rlimit{Cur: s.v, Max: hard}); err != nil {
			return fail(LayerRlimits, i+1, err)
		}
	}
	return nil
}
