//go:build linux

package jail

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/beneath"
	"github.com/sandrun/sandrun/internal/capture"
	"github.com/sandrun/sandrun/internal/cgroup"
	"github.com/sandrun/sandrun/internal/verdict"
	"github.com/sandrun/sandrun/lang"
	"golang.org/x/sys/unix"
)

// errCold is why a run that could have been warm runs cold instead.
var errCold = errors.New("cold")

// coldReason says why a run cannot be served by the language's zygote
// ("" when it can): the zygote's interpreter made its locale and stdio
// encoding from the base environment, so a request that sets the locale
// runs cold, and so does one with a network allowlist (its proxy is set
// up by the cold jail), and one that changes a variable of the runtime's.
func coldReason(req *sandrun.Request, l *lang.Language) string {
	if !req.Network.IsNone() {
		return coldNetwork // the network proxy lives in a cold jail's namespace
	}
	if req.IsInteractive() {
		return coldInteractive // input as it comes and signals: the cold jail's (run_linux.go)
	}
	for k, v := range req.Env {
		switch k {
		case "LANG", "LC_ALL", "LC_CTYPE":
			return coldLocale
		}
		// The zygote's preloaded modules read the runtime's variables
		// (matplotlib its backend and config dir): another value needs
		// a fresh interpreter.
		if lv, ok := l.Env[k]; ok && lv != v {
			return coldRuntimeEnv
		}
	}
	return ""
}

// runWarm runs req in a child of the language's zygote. ok is false when
// the run must run cold instead (no warm path for the language, no ready
// zygote, no free slot, or the zygote failed before the child existed):
// the zygote being busy or broken never fails a run. Once the child
// exists, it fails closed like a cold jail.
func (b *Backend) runWarm(ctx context.Context, req *sandrun.Request, l *lang.Language, lim sandrun.Limits, files []initFile) (res *sandrun.Result, err error, ok bool) {
	w := b.warm
	if w == nil || l.Warm != lang.WarmFork {
		return nil, nil, false
	}
	if why := coldReason(req, l); why != "" {
		w.record(l.Name, why)
		return nil, nil, false
	}
	z := w.ready(l.Name)
	if z == nil {
		w.fallbacks.Add(1)
		w.record(l.Name, coldNoZygote)
		return nil, nil, false
	}
	slot, free := z.take()
	if !free {
		w.fallbacks.Add(1)
		w.record(l.Name, coldBusy)
		return nil, nil, false
	}
	r := &warmRun{z: z, slot: slot, pidfd: -1, lim: lim, t0: time.Now()}
	stdout := capture.New("stdout", int64(lim.Output), req.OnOutput, func() { r.kill(verdict.KillOutput, "stdout") })
	stderr := capture.New("stderr", int64(lim.Output), req.OnOutput, func() { r.kill(verdict.KillOutput, "stderr") })
	err = r.begin(b, l, req, files, stdout, stderr)
	if errors.Is(err, errCold) {
		w.fallbacks.Add(1)
		w.record(l.Name, coldZygoteError)
		return nil, nil, false
	}
	if err != nil {
		return nil, err, true
	}
	w.forked.Add(1)
	w.record(l.Name, "")
	res, err = b.finishWarm(ctx, r, req, l, stdout, stderr)
	return res, err, true
}

// finishWarm enforces the limits of a run whose program started, waits
// for its end and makes its Result.
func (b *Backend) finishWarm(ctx context.Context, r *warmRun, req *sandrun.Request, l *lang.Language, stdout, stderr *capture.Buffer) (*sandrun.Result, error) {
	tBegun := time.Now()
	done := make(chan struct{})
	go r.watch(done)
	stop := context.AfterFunc(ctx, func() { r.kill(verdict.KillCancel, "") })
	o := r.wait(req.Collect)
	close(done)
	stop()
	b.opts.Logger.Debug("jail: warm run", "cgroup", r.tCg.Sub(r.t0), "fork", r.tH.Sub(r.tCg), "setup", tBegun.Sub(r.tH), "run", time.Since(tBegun))
	if o.err != nil {
		return nil, o.err
	}
	res := &sandrun.Result{Downgrades: append([]string(nil), b.downgrades...)}
	res.Stdout, res.Stderr = stdout.Text(), stderr.Text()
	res.StdoutTruncated, res.StderrTruncated = stdout.Overflowed(), stderr.Overflowed()
	verdict.Decide(o.facts(r.lim, l, string(stderr.Bytes())), res)
	res.Usage = o.usage()
	res.Files = o.files
	return res, nil
}

// warmRun is one run in a zygote's child. Its processes: the child's
// pid 1 (the reaper, C2 in zygote.py) and the program under it.
type warmRun struct {
	z    *zygote
	slot int
	lim  sandrun.Limits
	t0   time.Time
	// when the cgroup was made and the child's handle came (debug log)
	tCg, tH time.Time
	conn    *net.UnixConn
	cg      *cgroup.Group
	pidfd   int // the run's pid 1
	pid     int // its pid on the host
	stdin   *os.File
	outs    [2]*os.File
	// guest, when not nil, makes this a guest child's run
	// (guest_linux.go): started by startGuest, not begin.
	guest *guestStart

	copying sync.WaitGroup
	frames  chan warmFrame

	mu      sync.Mutex
	killed  verdict.Kill
	stream  string
	start   time.Time     // the program's start
	cpuBase time.Duration // CPU its cgroup used before the run (a guest child's setup and warm-up)
	ended   bool
}

type warmFrame struct {
	kind    byte
	payload []byte
	fds     []int
	err     error
}

// copyOutput copies the child's stdout and stderr pipes to the run's
// writers until they close; r.copying counts the copies.
func (r *warmRun) copyOutput(stdout, stderr io.Writer) {
	for i, w := range []io.Writer{stdout, stderr} {
		out := r.outs[i]
		r.copying.Add(1)
		go func() {
			defer r.copying.Done()
			_, _ = io.Copy(w, out)
		}()
	}
}

// begin forks the child, hands it the run's config and waits for the
// program's start. errCold: the zygote did not produce a child.
func (r *warmRun) begin(b *Backend, l *lang.Language, req *sandrun.Request, files []initFile, stdout, stderr io.Writer) (err error) {
	defer func() {
		if err != nil {
			r.cleanup()
		}
	}()
	if r.cg, err = b.cg.Create(cgLimits(r.lim, b.opts.CPUs)); err != nil {
		return &SetupError{Layer: LayerCgroup, Errno: errnoOf(err), Detail: err.Error()}
	}
	r.tCg = time.Now()
	procs, err := r.cg.JoinFiles()
	if err != nil {
		return &SetupError{Layer: LayerCgroup, Errno: errnoOf(err), Detail: err.Error()}
	}
	if err := r.forkChild(r.z, procs, func(fds []int) error { return r.z.fork(r.slot, fds) }); err != nil {
		return err
	}
	r.tH = time.Now()
	if r.pid, err = pidfdPid(r.pidfd); err != nil {
		return &SetupError{Layer: LayerProtocol, Errno: errnoOf(err), Detail: "the child's pid"}
	}
	wc := b.warmConfig(l, req, files, r.lim)
	if b.warm.hook != nil {
		b.warm.hook(wc)
	}
	cfg, err := json.Marshal(wc)
	if err != nil {
		return err
	}
	setup := b.opts.SetupTimeout
	go func() {
		_ = r.conn.SetWriteDeadline(time.Now().Add(setup))
		if writeFrame(r.conn, msgConfig, cfg) != nil {
			r.kill(verdict.KillNone, "")
		}
	}()
	r.copyOutput(stdout, stderr)
	go func() {
		_, _ = io.Copy(r.stdin, strings.NewReader(req.Stdin))
		r.stdin.Close()
	}()
	return r.awaitStart(setup, "the warm child's setup did not finish")
}

// forkChild makes the run's channel and stdio pipes, has fork pass them
// and procs (the run's cgroup's files; closed here) to a new child of z,
// and takes the child's handle on itself, its first message: from then
// on the run is this child's, whatever happens. errCold: z did not fork.
func (r *warmRun) forkChild(z *zygote, procs []int, fork func(fds []int) error) error {
	child := []int{} // what the zygote passes on to the child
	defer func() { closeAll(child) }()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		closeAll(procs)
		return &SetupError{Layer: LayerProtocol, Errno: errnoOf(err)}
	}
	child = append(child, pair[1])
	f := os.NewFile(uintptr(pair[0]), "run")
	fc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		closeAll(procs)
		return &SetupError{Layer: LayerProtocol, Errno: errnoOf(err)}
	}
	r.conn = fc.(*net.UnixConn)
	for i := 0; i < 3; i++ {
		pr, pw, err := os.Pipe()
		if err != nil {
			closeAll(procs)
			return &SetupError{Layer: LayerProtocol, Errno: errnoOf(err)}
		}
		if i == 0 {
			r.stdin = pw
			child = append(child, dupClose(pr))
		} else {
			r.outs[i-1] = pr
			child = append(child, dupClose(pw))
		}
	}
	child = append(child, procs...)
	if err := fork(child); err != nil {
		return errCold
	}
	closeAll(child)
	child = nil
	r.frames = make(chan warmFrame, 8)
	go r.read()
	select {
	case fr := <-r.frames:
		switch {
		case fr.kind == zmsgHandle && len(fr.fds) == 1:
			r.pidfd = fr.fds[0]
		case fr.kind == msgError:
			return decodeSetupError(fr.payload)
		default:
			closeAll(fr.fds)
			return errCold
		}
	case <-time.After(forkWait):
		// A zygote that does not fork is replaced; the run runs cold.
		z.markDead()
		return errCold
	}
	return nil
}

// awaitStart waits for the child's report that the program started (or
// its setup's error), bounded by setup.
func (r *warmRun) awaitStart(setup time.Duration, late string) error {
	timer := time.NewTimer(setup)
	defer timer.Stop()
	select {
	case fr := <-r.frames:
		closeAll(fr.fds)
		switch fr.kind {
		case msgStarted:
			base := r.guestCPUBefore(fr.payload)
			r.mu.Lock()
			r.start, r.cpuBase = time.Now(), base
			r.mu.Unlock()
			return nil
		case msgError:
			return decodeSetupError(fr.payload)
		}
		// The child ended during its setup: a limit (the cgroup's
		// memory) or a kill; wait says which.
		r.push(fr)
		return nil
	case <-timer.C:
		r.kill(verdict.KillNone, "")
		return &SetupError{Layer: LayerExec, Errno: unix.ETIMEDOUT, Detail: late}
	}
}

// dupClose returns a raw duplicate of f's descriptor and closes f.
func dupClose(f *os.File) int {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 3)
	f.Close()
	if err != nil {
		return -1
	}
	return fd
}

// push puts a frame back for wait.
func (r *warmRun) push(fr warmFrame) {
	go func() { r.frames <- fr }()
}

// read delivers the child's frames; a frame with err ends the stream.
func (r *warmRun) read() {
	for {
		kind, p, fds, err := readFrame(r.conn)
		r.frames <- warmFrame{kind: kind, payload: p, fds: fds, err: err}
		if err != nil {
			return
		}
	}
}

// warmConfig is the run's config for the child: the cold jail's policies.
func (b *Backend) warmConfig(l *lang.Language, req *sandrun.Request, files []initFile, lim sandrun.Limits) *warmConfig {
	file := "/work/" + l.FileName
	args := req.Args
	if args == nil {
		args = []string{}
	}
	c := &warmConfig{
		File: file, Args: args, Argv: l.Command(file, int64(lim.Memory), req.Args),
		Env: programEnv(l, req.Env), Files: files, Hostname: b.opts.Hostname,
		WorkSize: int64(lim.WorkDir), WorkInodes: b.opts.WorkInodes, ProcReadOnly: warmProcReadOnly,
		Rlimits: rlimitsOf(lim), Seccomp: b.warm.filter,
		Sys: map[string]int{
			"capset": unix.SYS_CAPSET, "close_range": unix.SYS_CLOSE_RANGE,
			"landlock_create_ruleset": unix.SYS_LANDLOCK_CREATE_RULESET,
			"landlock_add_rule":       unix.SYS_LANDLOCK_ADD_RULE,
			"landlock_restrict_self":  unix.SYS_LANDLOCK_RESTRICT_SELF,
		},
	}
	partial := b.opts.downgraded(DowngradeLandlock)
	if abi := landlockABI(); !(partial && abi == 0) {
		r := rightsFor(abi)
		var runtimePaths []string
		binds, _ := bindsFor(l)
		for _, bd := range binds {
			if bd.Symlink == "" {
				runtimePaths = append(runtimePaths, bd.Path)
			}
		}
		ll := &warmLandlock{MinABI: 6, AttrSize: int(llAttrSize(abi)), FS: r.handledFS, Net: r.handledNet, Scoped: r.scoped, FileOnly: fileOnly}
		if partial {
			ll.MinABI = 1
		}
		for _, p := range landlockPolicy(r, runtimePaths) {
			ll.Rules = append(ll.Rules, warmRule{Path: p.path, Access: p.access})
		}
		c.Landlock = ll
	}
	return c
}

// rlimitsOf lists the program's per-process limits, as the cold jail
// sets them: [resource, soft, hard]. RLIMIT_CPU's hard limit is a second
// past the soft one (SIGXCPU first, then SIGKILL).
func rlimitsOf(lim sandrun.Limits) [][3]uint64 {
	cpu := uint64((lim.CPUTime.D() + time.Second - 1) / time.Second)
	out := [][3]uint64{{unix.RLIMIT_CORE, 0, 0}}
	if lim.OpenFiles > 0 {
		out = append(out, [3]uint64{unix.RLIMIT_NOFILE, uint64(lim.OpenFiles), uint64(lim.OpenFiles)})
	}
	if lim.FileSize > 0 {
		out = append(out, [3]uint64{unix.RLIMIT_FSIZE, uint64(lim.FileSize), uint64(lim.FileSize)})
	}
	if cpu > 0 {
		out = append(out, [3]uint64{unix.RLIMIT_CPU, cpu, cpu + 1})
	}
	return append(out, [3]uint64{unix.RLIMIT_STACK, 8 << 20, 8 << 20})
}

// pidfdPid is the host pid of the process a pidfd refers to.
func pidfdPid(fd int) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/self/fdinfo/%d", fd))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Pid:"); ok {
			pid, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || pid <= 0 {
				return 0, fmt.Errorf("pidfd %d: the process is gone", fd)
			}
			return pid, nil
		}
	}
	return 0, fmt.Errorf("pidfd %d: no Pid line", fd)
}

// kill ends the run: SIGKILL to its pid 1 (the kernel kills its whole pid
// namespace), then to what is left in its cgroup. The first reason wins.
func (r *warmRun) kill(why verdict.Kill, stream string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.killed == verdict.KillNone {
		r.killed, r.stream = why, stream
	}
	if r.pidfd >= 0 && !r.ended {
		_ = unix.PidfdSendSignal(r.pidfd, unix.SIGKILL, nil, 0)
	}
	if r.cg != nil {
		r.cg.Kill()
	}
}

// watch enforces the wall-clock (from the program's start) and CPU limits.
func (r *warmRun) watch(done <-chan struct{}) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	r.mu.Lock()
	start, cg, base := r.start, r.cg, r.cpuBase // cleanup clears r.cg under r.mu
	r.mu.Unlock()
	timer := time.NewTimer(r.lim.WallTime.D() - time.Since(start))
	defer timer.Stop()
	for {
		select {
		case <-done:
			return
		case <-timer.C:
			r.kill(verdict.KillTimeout, "")
			return
		case <-tick.C:
			if cg != nil && r.lim.CPUTime > 0 && cg.CPU()-base >= r.lim.CPUTime.D() {
				r.kill(verdict.KillCPU, "")
				return
			}
		}
	}
}

// wait waits for the program's end, collects files, lets the child end
// and releases everything.
func (r *warmRun) wait(collect []string) *outcome {
	o := &outcome{}
	for o.status == nil {
		fr := <-r.frames
		closeAll(fr.fds)
		if fr.err != nil {
			break
		}
		switch fr.kind {
		case msgExited:
			if v, ok := getU32(fr.payload); ok {
				ws := unix.WaitStatus(v)
				o.status = &ws
			}
		case msgError:
			o.err = decodeSetupError(fr.payload)
		}
	}
	early := false
	if r.guest != nil && o.err == nil && o.status == nil {
		// A guest child has no reaper to report its exit: it closed the
		// run's socket when its program started, and its end is its
		// pidfd's (the limits' kills end it too), or its run's
		// (guestEnd); its wait status comes from the pidfd as well
		// (guestExitStatus).
		var ws unix.WaitStatus
		ws, early = r.guestEnd()
		o.status = &ws
	}
	r.mu.Lock()
	o.wall, o.setup = time.Since(r.start), r.start.Sub(r.t0)
	r.mu.Unlock()
	if o.status != nil && len(collect) > 0 {
		// The child's pid 1 keeps the run's mount namespace alive until
		// told: its /work, seen through its root, opened beneath it.
		files, err := beneath.Collect(filepath.Join("/proc", strconv.Itoa(r.pid), "root", "work"), collect,
			beneath.CollectLimits{MaxFile: int64(r.lim.Output), MaxTotal: 8 << 20})
		if err != nil {
			o.err = &SetupError{Layer: LayerCollect, Errno: errnoOf(err), Detail: err.Error()}
		}
		o.files = files
	}
	_ = writeFrame(r.conn, zmsgDone, nil)
	// Its pid 1 ends now (or was killed): wait for it, bounded. (A guest
	// that ended its run early was killed: its teardown is not waited for.)
	if r.pidfd >= 0 && !early {
		fds := []unix.PollFd{{Fd: int32(r.pidfd), Events: unix.POLLIN}}
		if n, _ := unix.Poll(fds, 2000); n == 0 {
			r.kill(verdict.KillNone, "")
		}
	}
	copied := make(chan struct{})
	go func() { r.copying.Wait(); close(copied) }()
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
	}
	if r.cg != nil {
		o.stats = r.cg.Stats()
		o.stats.CPU = max(o.stats.CPU-r.cpuBase, 0)
	}
	r.mu.Lock()
	o.killed, o.stream = r.killed, r.stream
	r.ended = true
	r.mu.Unlock()
	if r.guest != nil && o.killed == verdict.KillNone && r.lim.CPUTime > 0 && o.stats.CPU >= r.lim.CPUTime.D()-50*time.Millisecond {
		// RLIMIT_CPU ended it before the watcher's next look.
		o.killed = verdict.KillCPU
	}
	if o.err == nil && o.status == nil && o.killed == verdict.KillNone && o.stats.OOMKills == 0 {
		o.err = errors.New("the warm child ended before reporting the program's end")
	}
	if r.guest != nil {
		// A guest's result does not wait for its cgroup's removal (its
		// one process is gone: its pidfd said so); the slot comes back
		// once the group is removed.
		go func() {
			if early {
				// Killed as its run ended: its group is removed once it
				// is gone (not retried against a busy group meanwhile).
				pollInFor(r.pidfd, 2000)
			}
			if err := r.cleanup(); err != nil {
				r.guest.log.Warn("jail: removing a guest run's cgroup", "err", err)
			}
		}()
		return o
	}
	if err := r.cleanup(); err != nil && o.err == nil {
		o.err = err
	}
	return o
}

// cleanup kills what is left, removes the cgroup and frees the slot once
// nothing of the run remains.
func (r *warmRun) cleanup() error {
	r.mu.Lock()
	if r.pidfd >= 0 {
		_ = unix.PidfdSendSignal(r.pidfd, unix.SIGKILL, nil, 0)
	}
	r.ended = true
	cg := r.cg
	r.cg = nil // watch and kill read it under r.mu
	r.mu.Unlock()
	var err error
	if cg != nil {
		cg.Kill()
		err = cg.Remove()
	}
	if r.conn != nil {
		r.conn.Close()
	}
	for _, f := range append([]*os.File{r.stdin}, r.outs[:]...) {
		if f != nil {
			f.Close()
		}
	}
	if r.pidfd >= 0 {
		unix.Close(r.pidfd)
		r.pidfd = -1
	}
	if err == nil {
		r.z.put(r.slot)
	}
	return err
}
