//go:build linux

package jail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/capture"
	"github.com/sandrun/sandrun/internal/cgroup"
	"github.com/sandrun/sandrun/internal/guest"
	"github.com/sandrun/sandrun/internal/verdict"
	"github.com/sandrun/sandrun/lang"
	"golang.org/x/sys/unix"
)

// Guests (internal/guest) run in light children of a zygote of their own
// (docs/architecture/restricted.md, "The guest child"). A guest's program
// does no I/O: a language policy runs the caller's code, and the child's
// boundary is what it can ask the kernel for, not what it can see. One
// process per run, a fork of the zygote (Z, the guest's modules
// preloaded):
//
//	before its run (forked ahead, GuestPrefork of them waiting): its own
//	    uid (one per slot), a pidfd for the supervisor, no capabilities,
//	    no_new_privs, Landlock (the interpreter's files, read-only; nothing
//	    else; abstract sockets and signals scoped)
//	with the run's config: the run's cgroup, rlimits, a seccomp allowlist
//	    (no open for writing, exec, fork, socket, kill, ptrace ...), the
//	    channel as fd 3, then the guest's entry
//
// A guest child has no namespaces of its own: it shares the zygote jail's
// (an empty network namespace, a view of only the runtime's files, its
// own pid namespace), and cannot reach what they would hide, since the
// allowlist has no call to reach it with. It has no reaper either: the
// kernel reaps it (the zygote ignores SIGCHLD), its end is its pidfd's,
// and how it ended is the guest's to report on the channel. That takes
// the per-run namespace setup, a second fork and its handoffs off the
// run's path (the trade-off is measured in docs/architecture/restricted.md).

// guestPreload is a guest zygote's one argument (zygote.py _preload).
type guestPreload struct {
	Modules []guest.Module `json:"modules"`
	Entry   string         `json:"entry"`
	Prepare string         `json:"prepare,omitempty"`
}

// guestConfig is a guest run's config, sent to its child with the
// channel's end and the cgroup's files.
type guestConfig struct {
	Config  json.RawMessage `json:"config"`
	Rlimits [][3]uint64     `json:"rlimits"`
}

// guestFork is the fork request of a guest child: its slot and the
// layers that do not depend on a run.
type guestFork struct {
	Slot  int `json:"slot"`
	Guest struct {
		Landlock *warmLandlock  `json:"landlock"`
		Seccomp  []byte         `json:"seccomp"`
		Sys      map[string]int `json:"sys"`
	} `json:"guest"`
}

// guestStart marks a warmRun as a guest child's.
type guestStart struct {
	log *slog.Logger
	// limits are its cgroup's, as made when it was forked (the
	// defaults): a run with the same ones writes none.
	limits cgroup.Limits
	// streams: the caller drives the child's stdin, stdout and stderr
	// itself (a launched guest, guest_launch_linux.go).
	streams bool
	// ended, when not nil, is closed once the run's channel was served to
	// its end, its stdout and stderr were read to theirs, and the guest had
	// reported its run over (guest.Run.Over; guestEnd).
	ended <-chan struct{}
}

// guestState is the backend's guest path, started at the first guest run
// (or in New, with Options.Prestart).
type guestState struct {
	mu     sync.Mutex
	path   *warmPath
	err    error
	filter []byte
	// pending holds children forked ahead of their runs, per guest.
	pending map[string]chan *warmRun
	// running counts guest runs in flight; idle is signalled when the
	// last one ends and taken when a run takes a child forked ahead
	// (fillGuests waits for them: guestRefillWait, guestRefillQuiet).
	running atomic.Int32
	idle    chan struct{}
	taken   chan struct{}
}

// guestRefillWait bounds how long a child is not forked ahead while guest
// runs are in flight and another child is still waiting: its fork, setup
// and warm-up (about 2 ms of CPU) would compete with those runs (on a
// 2-CPU host they added about a millisecond to a run's median).
const guestRefillWait = 50 * time.Millisecond

// guestRefillQuiet is how long no guest run must have been in flight
// before a child is forked ahead while the channel of those waiting is
// full (awaitGuestsIdle): when a run
// ends its result is still on its way out (the audit record, the HTTP
// response, the caller's wake-up: a few hand-offs between threads and
// processes), and a refill begun at once took the CPU they woke on. On a
// 2-CPU host the served response's last leg (handler end to client) went
// from 0.28 ms p50 (p90 1.2 ms) to 0.1 ms (p90 0.4 ms), served restricted
// python p50 from 2.6 ms to 2.2 ms (docs/architecture/restricted.md).
const guestRefillQuiet = 5 * time.Millisecond

// guestSpec returns the named guest of Options.Guests.
func (b *Backend) guestSpec(name string) (guest.Spec, bool) {
	for _, g := range b.opts.Guests {
		if g.Name == name {
			return g, true
		}
	}
	return guest.Spec{}, false
}

// CheckGuest implements guest.Runner: every layer of a guest child is
// available here and the guest's language can fork.
func (b *Backend) CheckGuest(ctx context.Context, name string) error {
	if b.host != nil {
		return b.host
	}
	g, ok := b.guestSpec(name)
	if !ok {
		return fmt.Errorf("jail: no guest %q is configured", name)
	}
	var missing []string
	if !b.root {
		missing = append(missing, "root (a guest zygote maps a range of host uids, one per child)")
	}
	if b.cg == nil {
		missing = append(missing, "the cgroup layer (each child is limited by its own cgroup)")
	}
	if b.opts.downgraded(DowngradeSeccomp) || auditArch == 0 {
		missing = append(missing, "seccomp (a guest child's boundary is a system call allowlist)")
	}
	if b.opts.downgraded(DowngradeLandlock) || landlockABI() < 6 {
		missing = append(missing, "Landlock ABI 6 (a guest child sees only the runtime's files, read-only)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("jail: %s cannot run here: it needs %s", name, joinAnd(missing))
	}
	l, err := b.opts.Languages.Lookup(ctx, g.Language)
	if err != nil {
		return err
	}
	if l.Warm != lang.WarmFork {
		return fmt.Errorf("jail: %s: %s cannot fork after its start, so it cannot host a guest", name, g.Language)
	}
	return nil
}

func joinAnd(s []string) string {
	switch len(s) {
	case 1:
		return s[0]
	case 2:
		return s[0] + " and " + s[1]
	}
	out := ""
	for i, x := range s {
		switch {
		case i == len(s)-1:
			out += ", and " + x
		case i > 0:
			out += ", " + x
		default:
			out = x
		}
	}
	return out
}

// guestPath returns the guest path, starting it on first use.
func (b *Backend) guestPath() (*warmPath, []byte, error) {
	b.guest.mu.Lock()
	defer b.guest.mu.Unlock()
	if b.guest.path != nil || b.guest.err != nil {
		return b.guest.path, b.guest.filter, b.guest.err
	}
	select {
	case <-b.closing:
		return nil, nil, errors.New("jail: the backend is closed")
	default:
	}
	prog, err := buildGuestFilter()
	if err == nil {
		b.guest.filter, err = assembleFilter(prog)
	}
	if err != nil {
		b.guest.err = fmt.Errorf("jail: the guest seccomp filter: %w", err)
		return nil, nil, b.guest.err
	}
	specs := map[string]guest.Spec{}
	var names []string
	for _, g := range b.opts.Guests {
		specs[g.Name] = g
		names = append(names, g.Name)
	}
	b.guest.path, b.guest.err = newWarmPathFor(b, b.opts.guestSlots(), names, specs)
	if b.guest.err == nil {
		b.guest.idle = make(chan struct{}, 1)
		b.guest.taken = make(chan struct{}, 1)
		b.guest.pending = map[string]chan *warmRun{}
		for _, name := range names {
			ch := make(chan *warmRun, GuestPrefork)
			b.guest.pending[name] = ch
			w := b.guest.path
			w.wg.Add(1)
			go b.fillGuests(w, name, ch)
		}
	}
	return b.guest.path, b.guest.filter, b.guest.err
}

// startGuests starts the guest zygotes ahead of the first run (a server).
func (b *Backend) startGuests() {
	if len(b.opts.Guests) == 0 {
		return
	}
	if _, _, err := b.guestPath(); err != nil {
		b.opts.Logger.Warn("jail: guests unavailable", "err", err)
	}
}

// closeGuests ends the guest zygotes and what runs in them.
func (b *Backend) closeGuests() {
	b.guest.mu.Lock()
	p := b.guest.path
	b.guest.err = errors.New("jail: the backend is closed")
	b.guest.mu.Unlock()
	if p != nil {
		p.close()
		for _, ch := range b.guest.pending {
			for len(ch) > 0 {
				(<-ch).discard()
			}
		}
	}
}

// GuestReady waits until the guest's zygote is ready to fork runs.
func (b *Backend) GuestReady(ctx context.Context, name string) error {
	if err := b.CheckGuest(ctx, name); err != nil {
		return err
	}
	w, _, err := b.guestPath()
	if err != nil {
		return err
	}
	_, err = awaitZygote(ctx, w, name)
	return err
}

// awaitZygote waits for the named zygote to be ready, bounded by ctx and
// a zygote's start time.
func awaitZygote(ctx context.Context, w *warmPath, name string) (*zygote, error) {
	if z := w.ready(name); z != nil {
		return z, nil
	}
	limit := time.NewTimer(zygoteStart + 5*time.Second)
	defer limit.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("jail: waiting for the %s zygote: %w", name, ctx.Err())
		case <-limit.C:
			return nil, fmt.Errorf("jail: the %s zygote did not start (see the log)", name)
		case <-w.closing:
			return nil, errors.New("jail: the backend is closed")
		case <-tick.C:
			if z := w.ready(name); z != nil {
				return z, nil
			}
		}
	}
}

// RunGuest implements guest.Runner: one run in a light child of the
// guest's zygote. A run waits for a free child slot (there is no cold
// path for a guest); a zygote that fails before the child exists is
// replaced and the run tries once more.
func (b *Backend) RunGuest(ctx context.Context, req *sandrun.Request, run *guest.Run) (*sandrun.Result, error) {
	var res *sandrun.Result
	err := b.onGuest(ctx, run.Guest, func(w *warmPath, l *lang.Language) (err error) {
		res, err = b.runGuestOnce(ctx, w, l, req, run)
		return err
	})
	return res, err
}

// onGuest calls f with the guest's path and language, once more when the
// zygote failed before the child existed (it is replaced meanwhile).
func (b *Backend) onGuest(ctx context.Context, name string, f func(*warmPath, *lang.Language) error) error {
	if err := b.CheckGuest(ctx, name); err != nil {
		return err
	}
	g, _ := b.guestSpec(name)
	l, err := b.opts.Languages.Lookup(ctx, g.Language)
	if err != nil {
		return err
	}
	w, _, err := b.guestPath()
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		err := f(w, l)
		if errors.Is(err, errCold) && attempt == 0 {
			continue
		}
		if errors.Is(err, errCold) {
			err = fmt.Errorf("jail: the %s zygote failed twice before forking a child", name)
		}
		return err
	}
}

// guestChannel makes a run's channel: the host's end as a conn, the
// child's as a descriptor (for startGuest).
func guestChannel() (net.Conn, int, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, -1, &SetupError{Layer: LayerProtocol, Errno: errnoOf(err), Detail: "the guest's channel"}
	}
	pf := os.NewFile(uintptr(pair[0]), "guest-channel")
	conn, err := net.FileConn(pf)
	pf.Close()
	if err != nil {
		unix.Close(pair[1])
		return nil, -1, &SetupError{Layer: LayerProtocol, Errno: errnoOf(err), Detail: "the guest's channel"}
	}
	return conn, pair[1], nil
}

func (b *Backend) runGuestOnce(ctx context.Context, w *warmPath, l *lang.Language, req *sandrun.Request, run *guest.Run) (*sandrun.Result, error) {
	b.guest.running.Add(1)
	defer func() {
		if b.guest.running.Add(-1) == 0 {
			select {
			case b.guest.idle <- struct{}{}:
			default:
			}
		}
	}()
	r, err := b.takeGuest(ctx, w, run.Guest, l)
	if err != nil {
		return nil, err
	}
	lim := req.Limits.WithDefaults()
	conn, childEnd, err := guestChannel()
	if err != nil {
		r.discard()
		return nil, err
	}
	defer conn.Close()
	stdout := capture.New("stdout", int64(lim.Output), req.OnOutput, func() { r.kill(verdict.KillOutput, "stdout") })
	stderr := capture.New("stderr", int64(lim.Output), req.OnOutput, func() { r.kill(verdict.KillOutput, "stderr") })
	if err := b.startGuest(r, lim, run.Config, childEnd, stdout, stderr); err != nil {
		return nil, err
	}
	w.forked.Add(1)
	served := make(chan struct{})
	if run.Serve != nil {
		go func() {
			defer close(served)
			run.Serve(conn)
		}()
	} else {
		close(served)
	}
	if run.Over != nil {
		ended := make(chan struct{})
		go func() {
			<-served
			r.copying.Wait()
			if run.Over() {
				close(ended)
			}
		}()
		r.guest.ended = ended
	}
	res, err := b.finishWarm(ctx, r, req, l, stdout, stderr)
	// The program's end closed the child's side: Serve reads what is
	// left (the guest's report) up to that EOF. Closing ours first would
	// lose it; a child end kept open somewhere is cut after a grace.
	select {
	case <-served:
	case <-time.After(2 * time.Second):
	}
	conn.Close()
	<-served
	return res, err
}

// startGuest gives a forked child its run: the run's limits on its
// cgroup, then its config with the channel's end; it returns once the
// program started. chanEnd is closed.
func (b *Backend) startGuest(r *warmRun, lim sandrun.Limits, entry []byte, chanEnd int, stdout, stderr io.Writer) (err error) {
	defer unix.Close(chanEnd)
	defer func() {
		if err != nil {
			r.cleanup()
		}
	}()
	r.mu.Lock()
	r.lim, r.t0 = lim, time.Now()
	r.mu.Unlock()
	if want := cgLimits(lim, b.opts.CPUs); want != r.guest.limits {
		if err := r.cg.Set(want); err != nil {
			return &SetupError{Layer: LayerCgroup, Errno: errnoOf(err), Detail: err.Error()}
		}
		r.guest.limits = want
	}
	r.tCg = time.Now()
	cfg, err := json.Marshal(guestConfig{Config: entry, Rlimits: rlimitsOf(lim)})
	if err != nil {
		return err
	}
	setup := b.opts.SetupTimeout
	_ = r.conn.SetWriteDeadline(time.Now().Add(setup))
	if err := writeFrame(r.conn, msgConfig, cfg, chanEnd); err != nil {
		// A child that failed before its run (its warm-up) said why
		// before it went.
		select {
		case fr := <-r.frames:
			closeAll(fr.fds)
			if fr.kind == msgError {
				return decodeSetupError(fr.payload)
			}
		case <-time.After(200 * time.Millisecond):
		}
		return &SetupError{Layer: LayerProtocol, Errno: errnoOf(err), Detail: "sending the guest's config"}
	}
	// While the child wakes: it is a run's now, for the parent's CPU
	// weight (only fairness: a directory read and a write that were on
	// the run's path before the config).
	r.cg.SetIdle(false)
	if !r.guest.streams {
		r.copyOutput(stdout, stderr)
		r.stdin.Close() // a guest's program reads no input
	}
	return r.awaitStart(setup, "the guest child's setup did not finish")
}

// guestLayers are a guest child's run-independent layers: Landlock (the
// interpreter's files, read-only) and the system call numbers it calls.
func guestLayers(l *lang.Language) (*warmLandlock, map[string]int) {
	abi := landlockABI()
	r := rightsFor(abi)
	ll := &warmLandlock{MinABI: 6, AttrSize: int(llAttrSize(abi)), FS: r.handledFS, Net: r.handledNet, Scoped: r.scoped, FileOnly: fileOnly}
	binds, _ := bindsFor(l)
	for _, bd := range binds {
		if bd.Symlink == "" {
			// Read only: the interpreter's lazy imports. No execute right
			// is needed (exec is not in the allowlist) and none is given.
			ll.Rules = append(ll.Rules, warmRule{Path: bd.Path, Access: r.read})
		}
	}
	return ll, map[string]int{
		"capset": unix.SYS_CAPSET, "close_range": unix.SYS_CLOSE_RANGE,
		"landlock_create_ruleset": unix.SYS_LANDLOCK_CREATE_RULESET,
		"landlock_add_rule":       unix.SYS_LANDLOCK_ADD_RULE,
		"landlock_restrict_self":  unix.SYS_LANDLOCK_RESTRICT_SELF,
	}
}
