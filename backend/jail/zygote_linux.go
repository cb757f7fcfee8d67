//go:build linux

package jail

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sandrun/sandrun/internal/cgroup"
	"github.com/sandrun/sandrun/internal/guest"
	"github.com/sandrun/sandrun/lang"
	"golang.org/x/sys/unix"
)

// The zygote jail's own limits: the interpreter with its start done, and
// the short-lived first children (C1) of the runs it forks, which share
// its pages until they leave for their run's cgroup.
const (
	zygoteMemory   = 256 << 20
	zygoteWorkSize = 1 << 20
	zygoteInodes   = 64
	// zygoteStart bounds a zygote's start (clone, view, interpreter).
	zygoteStart = 30 * time.Second
	// forkWait bounds how long a run waits for its child's first frame
	// before it runs cold and the zygote is replaced: the zygote forks
	// in about a millisecond, so this only catches a wedged one.
	forkWait = 3 * time.Second
)

// warmPath keeps one zygote per fork language (lang.WarmFork) and
// replaces those that fail. Runs it cannot serve run cold.
type warmPath struct {
	b      *Backend
	size   int       // child slots per zygote
	ranges *uidSlots // host uid ranges, zygoteRange uids each
	filter []byte    // the seccomp program, struct sock_filter[]

	mu      sync.Mutex
	zs      map[string]*zygote     // the ready zygote, by language
	langs   []string               // the fork languages, each with a keeper
	perLang map[string]*warmCounts // what each language's warm path did (WarmStatus)
	closing chan struct{}
	wg      sync.WaitGroup

	forked, fallbacks, restarts atomic.Int64

	// hook edits every child's config (tests only).
	hook func(*warmConfig)

	// guests, when not nil, makes this a guest path: its zygotes are
	// named after the guests (guest_linux.go) and preload their modules.
	guests map[string]guest.Spec
}

// newWarmPath starts the zygotes in the background. It needs what a
// zygote is made of: root (to map a range of host uids), cgroups, and a
// seccomp filter unless downgraded.
func newWarmPath(b *Backend) (*warmPath, error) {
	return newWarmPathFor(b, b.opts.Warm, b.opts.Languages.WithWarm(lang.WarmFork), nil)
}

// newWarmPathFor starts a zygote for each name (a language, or a guest
// when guests is not nil) with size child slots each.
func newWarmPathFor(b *Backend, size int, names []string, guests map[string]guest.Spec) (*warmPath, error) {
	if !b.root {
		return nil, errors.New("the warm path needs root: a zygote maps a range of host uids, one per child")
	}
	if b.cg == nil {
		return nil, errors.New("the warm path needs the cgroup layer: each child joins its own cgroup")
	}
	w := &warmPath{b: b, size: size, zs: map[string]*zygote{}, perLang: map[string]*warmCounts{}, closing: make(chan struct{}), guests: guests}
	if !b.opts.downgraded(DowngradeSeccomp) {
		// Assembled once at New (filterBytes), as for the cold inits.
		if w.filter = b.filter; len(w.filter) == 0 {
			return nil, errors.New("jail: no seccomp program")
		}
	}
	dir := b.opts.StateDir
	if dir == "" {
		dir = stateDir()
	}
	// Ranges sit right after the single-uid slots: slot n maps
	// [UIDBase+UIDCount+n*zygoteRange, +zygoteRange).
	n := uint32(64)
	var err error
	if w.ranges, err = newUIDSlots(filepath.Join(dir, "zygote-ranges"), 0, n); err != nil {
		return nil, err
	}
	w.langs = names
	for _, name := range w.langs {
		w.wg.Add(1)
		go w.keep(name)
	}
	return w, nil
}

// keep runs a zygote for one language until the backend closes,
// replacing it whenever it ends.
func (w *warmPath) keep(name string) {
	defer w.wg.Done()
	log := w.b.opts.Logger
	backoff := time.Duration(0)
	wait := func() bool {
		backoff = min(max(2*backoff, 200*time.Millisecond), 30*time.Second)
		select {
		case <-w.closing:
			return false
		case <-time.After(backoff):
			return true
		}
	}
	for first := true; ; first = false {
		select {
		case <-w.closing:
			return
		default:
		}
		if !first {
			w.restarts.Add(1)
		}
		l, err := w.b.opts.Languages.Lookup(context.Background(), w.language(name))
		if err != nil {
			w.started(name, !first, err)
			log.Warn("jail: warm path: language unavailable", "language", name, "err", err)
			if !wait() {
				return
			}
			continue
		}
		z, err := w.start(l, w.guests[name])
		w.started(name, !first, err)
		if err != nil {
			log.Warn("jail: warm path: starting a zygote", "language", name, "err", err)
			if !wait() {
				return
			}
			continue
		}
		backoff = 0
		w.mu.Lock()
		w.zs[name] = z
		w.mu.Unlock()
		select {
		case <-z.dead:
			log.Warn("jail: warm path: a zygote ended; starting another", "language", name)
		case <-w.closing:
		}
		w.mu.Lock()
		delete(w.zs, name)
		w.mu.Unlock()
		select {
		case <-w.closing:
			z.kill()
			return
		default:
			z.retire()
		}
	}
}

// ready returns the language's zygote when one is ready.
func (w *warmPath) ready(name string) *zygote {
	w.mu.Lock()
	defer w.mu.Unlock()
	z := w.zs[name]
	if z == nil {
		return nil
	}
	select {
	case <-z.dead:
		return nil
	default:
		return z
	}
}

func (w *warmPath) stats() WarmStats {
	s := WarmStats{Forked: w.forked.Load(), Fallbacks: w.fallbacks.Load(), Restarts: w.restarts.Load(), Ready: map[string]int{}}
	w.mu.Lock()
	defer w.mu.Unlock()
	for n, z := range w.zs {
		s.Ready[n] = len(z.slots)
	}
	return s
}

// WarmStats reports what the warm path did (zero when it is off).
func (b *Backend) WarmStats() WarmStats {
	if b.warm == nil {
		return WarmStats{Ready: map[string]int{}}
	}
	return b.warm.stats()
}

// WarmReady waits until the language's zygote is ready to fork runs. It
// fails at once when the warm path is off or the language does not fork.
func (b *Backend) WarmReady(ctx context.Context, language string) error {
	if b.warm == nil {
		return errors.New("jail: the warm path is off")
	}
	l, err := b.opts.Languages.Lookup(ctx, language)
	if err != nil {
		return err
	}
	if l.Warm != lang.WarmFork {
		return fmt.Errorf("jail: %s has no zygote (warm path %q)", language, l.Warm)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for b.warm.ready(language) == nil {
		select {
		case <-ctx.Done():
			return fmt.Errorf("jail: the %s zygote is not ready: %w", language, ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// close kills every zygote (and what runs in them) and waits for the
// keepers.
func (w *warmPath) close() {
	close(w.closing)
	w.wg.Wait()
}

// zygote is one running zygote jail.
type zygote struct {
	lang    *lang.Language
	cmd     *exec.Cmd
	ctl     *net.UnixConn
	ctlMu   sync.Mutex
	cg      *cgroup.Group
	pidfd   int // the zygote program (not its init)
	release func()
	// thread releases the OS thread that forked the zygote's init (its
	// PDEATHSIG follows that thread, see startIn): only once the init
	// is gone.
	thread func()
	slots  chan int

	dead      chan struct{} // the zygote program is gone or unusable
	deadOnce  sync.Once
	exited    chan struct{} // the init ended: nothing of the jail is left
	cleanOnce sync.Once
}

// language is the language of a zygote's name: the name itself, or a
// guest's language.
func (w *warmPath) language(name string) string {
	if g, ok := w.guests[name]; ok {
		return g.Language
	}
	return name
}

// start makes a zygote jail for l (preloading g's modules, if any) and
// waits until its program is ready.
func (w *warmPath) start(l *lang.Language, g guest.Spec) (_ *zygote, err error) {
	b := w.b
	n, release, err := w.ranges.acquire()
	if err != nil {
		return nil, err
	}
	base := b.opts.UIDBase + b.opts.UIDCount + n*zygoteRange
	z := &zygote{lang: l, release: release, pidfd: -1, slots: make(chan int, w.size), dead: make(chan struct{}), exited: make(chan struct{})}
	defer func() {
		if err != nil {
			z.kill()
		}
	}()
	for i := 1; i <= w.size; i++ {
		z.slots <- i
	}
	if z.cg, err = b.cg.Create(cgroup.Limits{Memory: zygoteMemory, Pids: 64 + 2*w.size, CPUs: b.opts.CPUs}); err != nil {
		return nil, &SetupError{Layer: LayerCgroup, Errno: errnoOf(err), Detail: err.Error()}
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	parentF, childF := os.NewFile(uintptr(pair[0]), "zygote"), os.NewFile(uintptr(pair[1]), "zygote-child")
	// Closed once the init has it (below): an init that dies then ends
	// the channel at once instead of at zygoteStart.
	defer childF.Close()
	fc, err := net.FileConn(parentF)
	parentF.Close()
	if err != nil {
		return nil, err
	}
	z.ctl = fc.(*net.UnixConn)
	errR, errW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer errW.Close()
	ids := []syscall.SysProcIDMap{{ContainerID: insideID, HostID: int(base), Size: zygoteRange}}
	z.cmd = &exec.Cmd{
		Path:       fmt.Sprintf("/proc/self/fd/%d", fdExe),
		Args:       []string{zygoteInitName, "__child", ChildRole},
		Env:        []string{"GOMAXPROCS=1"},
		Stderr:     errW,
		ExtraFiles: []*os.File{childF, b.exe},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags:                 jailNSFlags | unix.CLONE_NEWNET,
			UidMappings:                ids,
			GidMappings:                ids,
			GidMappingsEnableSetgroups: false,
			Credential:                 &syscall.Credential{Uid: insideID, Gid: insideID, NoSetGroups: true},
			AmbientCaps:                append([]uintptr{unix.CAP_SYS_ADMIN, unix.CAP_SETPCAP}, zygoteCaps...),
			Setsid:                     true,
			Pdeathsig:                  syscall.SIGKILL,
		},
	}
	// Born in its cgroup, on a thread of its own held until the init
	// ends (startIn): on a thread the Go runtime shares, the init's
	// PDEATHSIG fired when any goroutine ended locked to that thread,
	// and the zygote jail died with every run in it.
	var bornIn *cgroup.Group
	if z.cg.BornInside() {
		bornIn = z.cg
		fd, err := z.cg.CloneFD()
		if err != nil {
			errR.Close()
			z.cmd = nil
			return nil, &SetupError{Layer: LayerCgroup, Errno: errnoOf(err), Err: err}
		}
		if fd >= 0 {
			defer unix.Close(fd)
			z.cmd.SysProcAttr.UseCgroupFD, z.cmd.SysProcAttr.CgroupFD = true, fd
		}
	}
	z.thread, err = b.startIn(-1, bornIn, z.cmd.Start)
	if z.cmd.Process == nil {
		errR.Close()
		z.cmd = nil
		return nil, &SetupError{Layer: LayerNamespaces, Errno: errnoOf(err), Detail: fmt.Sprintf("starting the zygote's init: %v", err)}
	}
	childF.Close()
	go func() {
		_ = z.cmd.Wait()
		close(z.exited)
	}()
	go z.logStderr(errR, b.opts.Logger)
	if err != nil {
		if _, ok := err.(*SetupError); ok {
			return nil, err
		}
		return nil, &SetupError{Layer: LayerNamespaces, Errno: errnoOf(err), Detail: "starting the zygote's init", Err: err}
	}
	if !z.cg.BornInside() {
		if err := z.cg.Add(z.cmd.Process.Pid); err != nil {
			return nil, &SetupError{Layer: LayerCgroup, Errno: errnoOf(err), Detail: err.Error()}
		}
	}
	binds, err := bindsFor(l)
	if err != nil {
		return nil, err
	}
	fds, err := openBinds(z.cmd.Process.Pid, binds)
	if err != nil {
		return nil, err
	}
	cfg := &zygoteConfig{
		Binds: binds, Argv: zygoteArgv(l, g), Env: programEnv(l, nil),
		Hostname: b.opts.Hostname, UID: insideID, GID: insideID,
		WorkSize: zygoteWorkSize, WorkInodes: zygoteInodes,
	}
	payload, err := json.Marshal(cfg)
	if err == nil {
		err = writeFrame(z.ctl, msgConfig, payload, fds...)
	}
	closeAll(fds)
	if err != nil {
		return nil, &SetupError{Layer: LayerProtocol, Errno: errnoOf(err), Detail: "sending the zygote's config"}
	}
	// The init reports the program started (with a pidfd of it), then
	// the program reports it is ready.
	_ = z.ctl.SetReadDeadline(time.Now().Add(zygoteStart))
	for ready := false; !ready; {
		kind, p, rfds, err := readFrame(z.ctl)
		if err != nil {
			closeAll(rfds)
			return nil, fmt.Errorf("the zygote ended before it was ready: %w", err)
		}
		switch kind {
		case msgError:
			closeAll(rfds)
			return nil, decodeSetupError(p)
		case msgStarted:
			if len(rfds) == 1 {
				z.pidfd = rfds[0]
			} else {
				closeAll(rfds)
			}
		case zmsgReady:
			closeAll(rfds)
			ready = true
		default:
			closeAll(rfds)
		}
	}
	_ = z.ctl.SetReadDeadline(time.Time{})
	if z.pidfd < 0 {
		return nil, errors.New("the zygote's init sent no handle on the zygote")
	}
	go z.watch()
	return z, nil
}

// zygoteArgv is the language's command line with the program file
// replaced by the zygote program; a guest's modules and entry follow as
// the zygote's one argument (JSON).
func zygoteArgv(l *lang.Language, g guest.Spec) []string {
	var out []string
	for _, a := range l.Argv {
		if a == "{file}" {
			out = append(out, "-c", preloads(l.Name)+zygotePython)
			continue
		}
		out = append(out, a)
	}
	if g.Entry != "" {
		b, _ := json.Marshal(guestPreload{Modules: g.Modules, Entry: g.Entry, Prepare: g.Prepare})
		out = append(out, string(b))
	}
	return out
}

// preloads imports the runtime's Preload modules (lang.Info) before the
// zygote program: every child shares them already initialised (the data
// runtime's numpy, pandas and matplotlib: about a second of imports).
func preloads(name string) string {
	info, _ := lang.About(name)
	if len(info.Preload) == 0 {
		return ""
	}
	return "import " + strings.Join(info.Preload, ", ") + "\n"
}

// logStderr logs what the zygote's processes write to their stderr
// (crashes only: a run's program writes to its own pipes).
func (z *zygote) logStderr(r *os.File, log interface{ Warn(string, ...any) }) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	n := 0
	for sc.Scan() {
		if n++; n <= 200 {
			log.Warn("jail: zygote stderr", "language", z.lang.Name, "line", strings.TrimSpace(sc.Text()))
		}
	}
}

// watch marks the zygote dead when its channel ends.
func (z *zygote) watch() {
	var b [1]byte
	_, _ = z.ctl.Read(b[:]) // the zygote never writes after ready
	z.markDead()
}

func (z *zygote) markDead() { z.deadOnce.Do(func() { close(z.dead) }) }

// take returns a free child slot, if any.
func (z *zygote) take() (int, bool) {
	select {
	case s := <-z.slots:
		return s, true
	default:
		return 0, false
	}
}

func (z *zygote) put(slot int) { z.slots <- slot }

// fork asks the zygote for a child for one run.
func (z *zygote) fork(slot int, fds []int) error {
	payload, _ := json.Marshal(map[string]int{"slot": slot})
	return z.forkWith(payload, fds)
}

// forkWith asks the zygote for a child, with a payload of the caller's
// (a guest child's run-independent layers: guest_linux.go).
func (z *zygote) forkWith(payload []byte, fds []int) error {
	z.ctlMu.Lock()
	defer z.ctlMu.Unlock()
	_ = z.ctl.SetWriteDeadline(time.Now().Add(forkWait))
	err := writeFrame(z.ctl, zmsgNew, payload, fds...)
	if err != nil {
		z.markDead()
	}
	return err
}

// retire ends the zygote program but lets the runs it forked finish;
// the jail is released when its init ends.
func (z *zygote) retire() {
	z.markDead()
	if z.pidfd >= 0 {
		_ = unix.PidfdSendSignal(z.pidfd, unix.SIGKILL, nil, 0)
	}
	z.ctl.Close()
	go func() {
		<-z.exited
		z.cleanup()
	}()
}

// kill ends the whole zygote jail, runs in flight included, and
// releases it.
func (z *zygote) kill() {
	z.markDead()
	if z.cmd != nil && z.cmd.Process != nil {
		_ = z.cmd.Process.Kill()
		<-z.exited
	}
	z.cleanup()
}

func (z *zygote) cleanup() { z.cleanOnce.Do(z.release1) }

func (z *zygote) release1() {
	if z.ctl != nil {
		z.ctl.Close()
	}
	if z.pidfd >= 0 {
		unix.Close(z.pidfd)
		z.pidfd = -1
	}
	if z.cg != nil {
		z.cg.Kill()
		_ = z.cg.Remove()
		z.cg = nil
	}
	if z.release != nil {
		z.release()
		z.release = nil
	}
	if z.thread != nil {
		z.thread() // the init has ended (kill and retire wait for it)
		z.thread = nil
	}
}
