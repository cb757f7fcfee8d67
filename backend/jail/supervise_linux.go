//go:build linux

package jail

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/cgroup"
	"github.com/sandrun/sandrun/internal/netproxy"
	"github.com/sandrun/sandrun/internal/verdict"
	"github.com/sandrun/sandrun/internal/workdir"
	"github.com/sandrun/sandrun/lang"
	"golang.org/x/sys/unix"
)

// spec is one jailed process to start (a one-shot run or a launch).
type spec struct {
	lang    *lang.Language
	argv    []string
	env     []string
	files   []initFile
	limits  sandrun.Limits
	collect []string // globs of /work files returned after the run
	// stdin feeds the program (nil: the caller writes the pipe);
	// stdout and stderr receive its output (nil: the caller reads).
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// net is the proxy of a run with a network allowlist (nil: none),
	// opened in the init's namespace before the config goes out.
	net *jailNet
}

// proc is a started jail: the init process, its sync socket, its cgroup.
type proc struct {
	init *os.Process
	// setIDs: the init was started with its uid unmapped (vforkInit) and
	// takes the inside identity when the config arrives (flagSetIDs).
	setIDs bool
	// stdin and outs (stdout, stderr) are the supervisor's ends of the
	// init's standard streams, which the program inherits.
	stdin   *os.File
	outs    [2]*os.File
	copying sync.WaitGroup
	conn    *net.UnixConn
	cg      *cgroup.Group
	release func()
	// thread releases the OS thread that forked the init (its PDEATHSIG
	// follows that thread): only once the init is gone.
	thread func()
	// setupStart is when the run asked for this jail; setupLimit bounds
	// the time until the program starts (Options.SetupTimeout).
	setupStart time.Time
	setupLimit time.Duration

	mu         sync.Mutex
	killed     verdict.Kill
	stream     string
	initExited bool
	// start is when the init reported the program started (zero until
	// then): the wall clock and its limit count from here.
	start time.Time
	// step is the setup layer the init last reported entering; a setup
	// that does not finish in time names it (setupTimedOut).
	step          Layer
	setupTimedOut bool
	limits        sandrun.Limits
	// collect: the /work files to read once the program ended, before
	// the init exits (it waits for msgDone).
	collect    []string
	collectLim workdir.CollectLimits
	// limitsSince and cpuBase are where the current limits count from
	// (the start, or the last SetLimits of a launched process).
	limitsSince time.Time
	cpuBase     time.Duration

	// Set by the reader before readerDone closes.
	readerDone chan struct{}
	started    chan struct{} // closed when the program runs or setup failed
	setupErr   *SetupError
	collectErr *SetupError
	status     *unix.WaitStatus
	files      []sandrun.OutputFile
}

// outcome is how a jail ended.
type outcome struct {
	status *unix.WaitStatus // nil: the program's end was not reported
	killed verdict.Kill
	stream string
	stats  cgroup.Stats
	wall   time.Duration // the program's, from its start
	setup  time.Duration // from the request to the program's start
	files  []sandrun.OutputFile
	err    error // the sandbox failed
}

// spawn clones an init with every namespace, in its own cgroup (default
// limits until configure), waiting for its config. It holds no request
// data, so it may be made ahead of time (Options.Prestart).
func (b *Backend) spawn() (_ *proc, err error) {
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	release := func() {}
	if b.slots != nil {
		if uid, release, err = b.slots.Acquire(); err != nil {
			return nil, &SetupError{Layer: LayerNamespaces, Err: err}
		}
		gid = uid
	}
	p := &proc{release: release, readerDone: make(chan struct{}), started: make(chan struct{}), step: LayerProtocol}
	defer func() {
		if err != nil {
			p.cleanup()
		}
	}()
	// The cgroup is made first: the init is born in it (see startIn).
	if b.cg != nil {
		if p.cg, err = b.cg.Create(cgLimits(sandrun.DefaultLimits(), b.opts.CPUs)); err != nil {
			return nil, &SetupError{Layer: LayerCgroup, Errno: errnoOf(err), Err: err}
		}
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, &SetupError{Layer: LayerProtocol, Errno: errnoOf(err)}
	}
	parentF, childF := os.NewFile(uintptr(pair[0]), "sync"), os.NewFile(uintptr(pair[1]), "sync-child")
	defer childF.Close()
	fc, err := net.FileConn(parentF)
	parentF.Close()
	if err != nil {
		return nil, &SetupError{Layer: LayerProtocol, Errno: errnoOf(err)}
	}
	p.conn = fc.(*net.UnixConn)
	var child [3]*os.File // the init's (and the program's) 0, 1, 2
	for i := range child {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, &SetupError{Layer: LayerProtocol, Errno: errnoOf(err)}
		}
		if i == 0 {
			child[i], p.stdin = r, w
		} else {
			child[i] = w
			p.outs[i-1] = r
		}
	}
	defer func() {
		for _, f := range child {
			f.Close()
		}
	}()
	flags := uintptr(jailNSFlags)
	if b.net == nil {
		flags |= unix.CLONE_NEWNET
	}
	netFD := -1
	if b.net != nil {
		if netFD, err = b.net.take(); err != nil {
			return nil, &SetupError{Layer: LayerNamespaces, Errno: errnoOf(err), Detail: "making the run's network namespace", Err: err}
		}
		defer unix.Close(netFD)
	}
	if !b.noVfork.Load() {
		p.init, p.thread, err = b.vforkInit(netFD, p.cg, flags, uid, gid, []*os.File{child[0], child[1], child[2], childF, b.exe})
		switch {
		case err == nil:
			p.setIDs = true
			return p, nil
		case errors.Is(err, errNoVfork):
			b.noVfork.Store(true)
			b.opts.Logger.Debug("jail: starting inits with os/exec", "why", err)
		default:
			return nil, err
		}
	}
	cmd := &exec.Cmd{
		// The init binary travels as fd 4 and is exec'd through
		// /proc/self/fd: the init's host uid may not be able to reach its
		// path (a test binary under a 0700 directory).
		Path:       fmt.Sprintf("/proc/self/fd/%d", fdExe),
		Args:       []string{"sandrun-jail-init", "__child", ChildRole},
		Env:        []string{initEnv}, // the C init takes the role before the Go runtime starts
		Stdin:      child[0],
		Stdout:     child[1],
		Stderr:     child[2],
		ExtraFiles: []*os.File{childF, b.exe},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags:                 flags,
			UidMappings:                []syscall.SysProcIDMap{{ContainerID: insideID, HostID: int(uid), Size: 1}},
			GidMappings:                []syscall.SysProcIDMap{{ContainerID: insideID, HostID: int(gid), Size: 1}},
			GidMappingsEnableSetgroups: false,
			Credential:                 &syscall.Credential{Uid: insideID, Gid: insideID, NoSetGroups: true},
			// The init builds the mount tree and drops the bounding set;
			// it passes nothing on (the program starts with empty sets).
			AmbientCaps: []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_SETPCAP},
			Setsid:      true,
			Pdeathsig:   syscall.SIGKILL,
		},
	}
	if p.cg != nil {
		fd, err := p.cg.CloneFD()
		if err != nil {
			return nil, &SetupError{Layer: LayerCgroup, Errno: errnoOf(err), Err: err}
		}
		if fd >= 0 {
			defer unix.Close(fd)
			cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
		}
	}
	var bornIn *cgroup.Group
	if p.cg != nil && p.cg.BornInside() {
		bornIn = p.cg
	}
	p.thread, err = b.startIn(netFD, bornIn, cmd.Start)
	p.init = cmd.Process // nil: nothing to kill or wait for
	if err != nil {
		if _, ok := err.(*SetupError); ok {
			return nil, err
		}
		return nil, &SetupError{Layer: LayerNamespaces, Errno: errnoOf(err), Detail: "starting the jail init", Err: err}
	}
	if p.cg != nil && !p.cg.BornInside() {
		if err := p.cg.Add(cmd.Process.Pid); err != nil {
			return nil, &SetupError{Layer: LayerCgroup, Errno: errnoOf(err), Err: err}
		}
	}
	return p, nil
}

// take returns a prestarted init when one is ready (or the one spawned
// ahead, waiting for it), else spawns one. prestarted says whether p was
// made before the run asked.
func (b *Backend) take() (p *proc, prestarted bool, err error) {
	if b.ahead != nil {
		if p, ok := <-b.ahead; ok && p != nil {
			return p, true, nil
		}
	}
	if b.pool != nil {
		select {
		case p := <-b.pool:
			return p, true, nil
		default:
		}
	}
	p, err = b.spawn()
	return p, false, err
}

// prestart keeps Options.Prestart inits waiting for their config, so
// that the clone and the init's runtime start are off the run's path.
// Each still gets a fresh everything: namespaces, uid, cgroup, tmpfs.
func (b *Backend) prestart() {
	defer close(b.poolDone)
	for {
		p, err := b.spawn()
		if err != nil {
			b.opts.Logger.Warn("jail: prestarting an init", "err", err)
			select {
			case <-b.closing:
				return
			case <-time.After(time.Second):
				continue
			}
		}
		if p.cg != nil {
			p.cg.SetIdle(true) // no run yet: it weighs nothing (reweigh)
		}
		select {
		case b.pool <- p:
		case <-b.closing:
			p.cleanup()
			return
		}
	}
}

// spawnAhead spawns the one init of Options.SpawnAhead; a failure is the
// first run's to meet again (it spawns its own).
func (b *Backend) spawnAhead() {
	defer close(b.ahead)
	p, err := b.spawn()
	if err != nil {
		b.opts.Logger.Debug("jail: spawning an init ahead", "err", err)
		b.ahead <- nil
		return
	}
	if p.cg != nil {
		p.cg.SetIdle(true) // no run yet: it weighs nothing (reweigh)
	}
	b.ahead <- p
}

// start configures an init (prestarted or new) for one process: limits,
// bind sources, config, and the standard streams.
func (b *Backend) start(s *spec) (*proc, error) {
	t0 := time.Now()
	binds, err := bindsFor(s.lang)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		p, prestarted, err := b.take()
		if err != nil {
			return nil, err
		}
		p.setupStart, p.setupLimit = t0, b.opts.SetupTimeout
		err = b.configure(p, s, binds)
		if err == nil {
			return p, nil
		}
		p.cleanup()
		// A prestarted init that died while waiting (killed from
		// outside, say) is replaced by a fresh one; a fresh one that
		// fails is the run's failure.
		if !prestarted || attempt > b.opts.Prestart {
			return nil, err
		}
		b.opts.Logger.Warn("jail: a prestarted init could not be configured; starting a fresh one", "err", err)
	}
}

func (b *Backend) configure(p *proc, s *spec, binds []bindSpec) error {
	p.limits = s.limits
	if p.cg != nil {
		p.cg.SetIdle(false)
		if err := p.cg.Set(cgLimits(s.limits, b.opts.CPUs)); err != nil {
			return &SetupError{Layer: LayerCgroup, Errno: errnoOf(err), Err: err}
		}
	}
	if s.net != nil {
		if err := s.net.open(b, p.init.Pid); err != nil {
			return err
		}
	}
	fds, err := openBinds(p.init.Pid, binds)
	if err != nil {
		s.net.reset()
		return err
	}
	p.collect = s.collect
	p.collectLim = workdir.CollectLimits{MaxFile: int64(s.limits.Output), MaxTotal: 8 << 20}
	cfg := b.initConfig(s, binds)
	if p.setIDs {
		cfg.Flags |= flagSetIDs
	}
	payload, err := cfg.encode()
	if err == nil {
		err = writeFrame(p.conn, msgConfig, payload, fds...)
	}
	closeAll(fds)
	if err != nil {
		s.net.reset()
		return &SetupError{Layer: LayerProtocol, Errno: errnoOf(err), Detail: "sending the config"}
	}
	for i, w := range []io.Writer{s.stdout, s.stderr} {
		if w == nil {
			continue // the caller reads the pipe itself (Launch)
		}
		r := p.outs[i]
		p.copying.Add(1)
		go func() {
			defer p.copying.Done()
			_, _ = io.Copy(w, r)
		}()
	}
	if s.stdin != nil {
		go func() {
			_, _ = io.Copy(p.stdin, s.stdin)
			p.stdin.Close()
		}()
	}
	go p.read()
	return nil
}

func (b *Backend) initConfig(s *spec, binds []bindSpec) *initConfig {
	lim := s.limits
	cfg := &initConfig{
		Binds: binds, Argv: s.argv, Env: s.env, Files: s.files,
		Hostname: b.opts.Hostname, UID: insideID, GID: insideID,
		WorkSize: uint64(lim.WorkDir), WorkInodes: uint64(b.opts.WorkInodes),
		CPUSeconds: uint64((lim.CPUTime.D() + time.Second - 1) / time.Second),
		FileSize:   uint64(lim.FileSize), OpenFiles: uint64(lim.OpenFiles),
		Seccomp: b.filter,
	}
	if b.cg == nil && s.lang.AddressSpaceLimit {
		cfg.AddressSpace = uint64(lim.Memory)
	}
	if b.opts.downgraded(DowngradeSeccomp) {
		cfg.Flags |= flagNoSeccomp
	}
	switch {
	case b.opts.downgraded(DowngradeLandlock) && b.abi == 0:
		cfg.Flags |= flagNoLandlock
	case b.opts.downgraded(DowngradeLandlock):
		cfg.Flags |= flagLandlockPartial
	}
	if len(s.collect) > 0 {
		cfg.Flags |= flagWaitDone
	}
	r := rightsFor(b.abi)
	var runtimePaths []string
	for _, bd := range binds {
		if bd.Symlink == "" {
			runtimePaths = append(runtimePaths, bd.Path)
		}
	}
	cfg.Landlock = landlockConfig{
		ABI: uint32(b.abi), HandledFS: r.handledFS, HandledNet: r.handledNet, Scoped: r.scoped,
		FileOnly: fileOnly, Rules: landlockPolicy(r, runtimePaths),
	}
	if s.net != nil {
		// A run with a network allowlist: IPv4 TCP sockets, and (ABI 4+)
		// TCP connect to the proxy's loopback port only (network_linux.go).
		cfg.Seccomp = b.filterInet
		if r.handledNet != 0 {
			cfg.Landlock.Connect = []uint16{netproxy.Port}
		}
	}
	return cfg
}

// The init shares the run's cgroup (the warm path's pid 1 of a run
// too): it counts as one pid, and its memory (and the kernel's for the
// run's namespaces and mounts) as memory. These allowances keep the
// program's own limits what the request says. One pid is all the init
// ever takes: it is single-threaded and forks nothing after the
// program, so a program that fills its process limit cannot starve it
// (a Go init, which needs threads, died of that: exit status 2), and
// the program gets exactly its limit, as on the other tiers.
const (
	initPids   = 1
	initMemory = 8 << 20
)

func cgLimits(l sandrun.Limits, cpus float64) cgroup.Limits {
	return cgroup.Limits{Memory: int64(l.Memory) + initMemory, Pids: l.Processes + initPids, CPUs: cpus}
}

// read consumes the init's frames until the socket closes.
func (p *proc) read() {
	defer close(p.readerDone)
	startedOnce := sync.OnceFunc(func() { close(p.started) })
	defer startedOnce()
	for {
		kind, payload, fds, err := readFrame(p.conn)
		closeAll(fds)
		if err != nil {
			return
		}
		switch kind {
		case msgError:
			p.setupErr = decodeSetupError(payload)
			startedOnce()
		case msgStarted:
			now := time.Now()
			p.mu.Lock()
			p.start, p.limitsSince = now, now
			p.mu.Unlock()
			startedOnce()
		case msgProgress:
			if len(payload) == 2 {
				p.mu.Lock()
				p.step = Layer(binary.BigEndian.Uint16(payload))
				p.mu.Unlock()
			}
		case msgExited:
			if v, ok := getU32(payload); ok {
				ws := unix.WaitStatus(v)
				p.status = &ws
			}
			if len(p.collect) > 0 {
				p.collectFiles()
			}
		}
	}
}

// collectFiles reads the /work files the request asked for, through the
// init's root while its namespace lives (every process but the init has
// ended: nothing changes under the walk, which follows no symlink), then
// lets the init exit.
func (p *proc) collectFiles() {
	dir := fmt.Sprintf("/proc/%d/root/work", p.init.Pid)
	files, err := workdir.Collect(dir, p.collect, p.collectLim)
	if err != nil {
		p.collectErr = &SetupError{Layer: LayerCollect, Errno: errnoOf(err), Detail: "collecting output files", Err: err}
	}
	p.files = files
	_ = writeFrame(p.conn, msgDone, nil)
}

// kill ends the whole jail: SIGKILL to the init (pid 1 of the jail's pid
// namespace, so the kernel kills every process in it), then the cgroup.
// The first reason wins.
func (p *proc) kill(why verdict.Kill, stream string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.killed == verdict.KillNone {
		p.killed, p.stream = why, stream
	}
	if !p.initExited && p.init != nil {
		_ = p.init.Signal(syscall.SIGKILL)
	}
	if p.cg != nil {
		p.cg.Kill()
	}
}

// signal asks the init to signal the program's process group.
func (p *proc) signal(sig syscall.Signal) error {
	return writeFrame(p.conn, msgSignal, u32(uint32(sig)))
}

// watch bounds the setup (until the program starts), then enforces the
// wall-clock and CPU limits until done closes.
func (p *proc) watch(done <-chan struct{}) {
	setup := time.NewTimer(time.Until(p.setupStart.Add(p.setupLimit)))
	select {
	case <-p.started:
		setup.Stop()
		// The program may have started before this watcher ran: the
		// bound is on the time the setup took, whichever event the
		// select saw first.
		p.mu.Lock()
		late := !p.start.IsZero() && p.start.Sub(p.setupStart) > p.setupLimit
		p.setupTimedOut = p.setupTimedOut || late
		p.mu.Unlock()
		if late {
			p.kill(verdict.KillNone, "")
			return
		}
	case <-done:
		setup.Stop()
		return
	case <-setup.C:
		p.mu.Lock()
		p.setupTimedOut = p.start.IsZero()
		p.mu.Unlock()
		p.kill(verdict.KillNone, "")
		return
	}
	p.mu.Lock()
	started := !p.start.IsZero()
	p.mu.Unlock()
	if !started {
		return // setup failed: the init is ending
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		p.mu.Lock()
		lim, since, cpuBase, cg := p.limits, p.limitsSince, p.cpuBase, p.cg
		p.mu.Unlock()
		left := lim.WallTime.D() - time.Since(since)
		if left <= 0 {
			p.kill(verdict.KillTimeout, "")
			return
		}
		timer := time.NewTimer(left)
		select {
		case <-done:
			timer.Stop()
			return
		case <-timer.C:
			// SetLimits may have moved the limit since the timer was set.
			p.mu.Lock()
			lim, since = p.limits, p.limitsSince
			p.mu.Unlock()
			if time.Since(since) < lim.WallTime.D() {
				continue
			}
			p.kill(verdict.KillTimeout, "")
			return
		case <-tick.C:
			timer.Stop()
			if cg != nil && lim.CPUTime > 0 && cg.CPU()-cpuBase >= lim.CPUTime.D() {
				p.kill(verdict.KillCPU, "")
				return
			}
		}
	}
}

// wait waits for the init to end and releases everything.
func (p *proc) wait() *outcome {
	_, werr := p.init.Wait()
	p.mu.Lock()
	p.initExited = true
	p.mu.Unlock()
	<-p.readerDone
	// Every process of the jail is gone, so the pipes are at EOF; the
	// bound is for safety only.
	copied := make(chan struct{})
	go func() { p.copying.Wait(); close(copied) }()
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
	}
	o := &outcome{status: p.status, files: p.files}
	if p.cg != nil {
		o.stats = p.cg.Stats()
	}
	p.mu.Lock()
	o.killed, o.stream = p.killed, p.stream
	if !p.start.IsZero() {
		o.wall, o.setup = time.Since(p.start), p.start.Sub(p.setupStart)
	}
	timedOut, step := p.setupTimedOut, p.step
	// The watcher may run late (a loaded host): the bound is on the time
	// the setup took, decided here whatever the watcher saw.
	timedOut = timedOut || (!p.start.IsZero() && p.start.Sub(p.setupStart) > p.setupLimit)
	p.mu.Unlock()
	switch {
	case p.setupErr != nil:
		o.err = p.setupErr
	case p.collectErr != nil:
		o.err = p.collectErr
	case timedOut:
		o.err = &SetupError{Layer: step, Detail: fmt.Sprintf("the jail's setup did not finish within %v", p.setupLimit)}
	case o.status == nil && o.killed == verdict.KillNone && o.stats.OOMKills == 0:
		o.err = fmt.Errorf("the jail init ended before reporting the program's end: %w", werr)
	}
	if err := p.cleanup(); err != nil && o.err == nil {
		o.err = err
	}
	return o
}

// cleanup ends the init if it still runs, removes the cgroup, frees the
// uid and closes the socket and pipes. The init goes first: a cgroup
// cannot be removed while a process is in it.
func (p *proc) cleanup() error {
	if p.init != nil && !p.initExited {
		_ = p.init.Kill()
		_, _ = p.init.Wait()
		p.initExited = true
	}
	if p.thread != nil {
		p.thread()
	}
	var err error
	// watch and kill read p.cg under p.mu from other goroutines.
	p.mu.Lock()
	cg := p.cg
	p.cg = nil
	p.mu.Unlock()
	if cg != nil {
		cg.Kill()
		err = cg.Remove()
	}
	if p.conn != nil {
		p.conn.Close()
	}
	for _, f := range append([]*os.File{p.stdin}, p.outs[:]...) {
		if f != nil {
			f.Close()
		}
	}
	if p.release != nil {
		p.release()
		p.release = nil
	}
	return err
}

// facts turns an outcome into the verdict's input.
func (o *outcome) facts(lim sandrun.Limits, l *lang.Language, stderr string) verdict.Facts {
	f := verdict.Facts{
		Killed: o.killed, Stream: o.stream, OOMKilled: o.stats.OOMKills > 0,
		CPU: o.stats.CPU, Limits: lim, Stderr: stderr, OOMMarkers: l.OOMMarkers,
	}
	if o.status != nil {
		ws := *o.status
		f.Exited, f.ExitCode = ws.Exited(), ws.ExitStatus()
		if ws.Signaled() {
			f.Signal = ws.Signal()
		}
	} else {
		f.Signal = syscall.SIGKILL // the whole jail was killed
	}
	return f
}

// usage is the outcome's part of a Result.
func (o *outcome) usage() sandrun.Usage {
	return sandrun.Usage{
		WallMs: o.wall.Milliseconds(), CPUMs: o.stats.CPU.Milliseconds(),
		MemoryPeakBytes: o.stats.PeakMem, SetupMs: o.setup.Milliseconds(),
	}
}
