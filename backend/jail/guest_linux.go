//go:build linux

package jail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/capture"
	"github.com/sandrun/sandrun/internal/guest"
	"github.com/sandrun/sandrun/internal/verdict"
	"github.com/sandrun/sandrun/lang"
	"golang.org/x/sys/unix"
)

// Guests (internal/guest) run in light children of a zygote of their own
// (docs/architecture/restricted.md, "The guest child"). A guest's program
// does no I/O: a language policy runs the caller's code, and the child's
// boundary is what it can ask the kernel for, not what it can see:
//
//	zygote (Z, guest modules preloaded)  --fork-->  R: its own uid (one per
//	    slot), no capabilities, the run's cgroup; reaps P and reports
//	R --fork--> P: setsid, no capabilities, no_new_privs, rlimits,
//	    Landlock (the interpreter's files, read-only; nothing else; abstract
//	    sockets and signals scoped), a seccomp allowlist (no open for
//	    writing, no exec, fork, socket, kill, ptrace ...): the program
//
// A guest child has no namespaces of its own: it shares the zygote jail's
// (an empty network namespace, a view of only the runtime's files, its
// own pid namespace), and cannot reach what they would hide, since the
// allowlist has no call to reach it with. That removes the per-run
// namespace setup from the run's path (the trade-off is measured in the
// restricted tier's docs).

// guestPreload is a guest zygote's one argument (zygote.py _preload).
type guestPreload struct {
	Modules []guest.Module `json:"modules"`
	Entry   string         `json:"entry"`
}

// guestConfig is a guest run's config, sent to R with the channel's end.
type guestConfig struct {
	Config   json.RawMessage `json:"config"`
	Rlimits  [][3]uint64     `json:"rlimits"`
	Seccomp  []byte          `json:"seccomp"`
	Landlock *warmLandlock   `json:"landlock"`
	Sys      map[string]int  `json:"sys"`
}

// guestStart is what begin sends a guest child instead of a warm config.
type guestStart struct {
	config    []byte
	childEnd  int // the channel's end for the child; closed once sent
	handedOff bool
	once      sync.Once
	log       *slog.Logger
	// streams: the caller drives the child's stdin, stdout and stderr
	// itself (a launched guest, guest_launch_linux.go).
	streams bool
}

func (g *guestStart) closeChild() { g.once.Do(func() { unix.Close(g.childEnd) }) }

// guestState is the backend's guest path, started at the first guest run
// (or in New, with Options.Prestart).
type guestState struct {
	mu     sync.Mutex
	path   *warmPath
	err    error
	filter []byte
}

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
		b.guest.filter, err = rawFilter(prog)
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
	if err := b.CheckGuest(ctx, run.Guest); err != nil {
		return nil, err
	}
	g, _ := b.guestSpec(run.Guest)
	l, err := b.opts.Languages.Lookup(ctx, g.Language)
	if err != nil {
		return nil, err
	}
	w, filter, err := b.guestPath()
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		res, err := b.runGuestOnce(ctx, w, filter, l, req, run)
		if errors.Is(err, errCold) && attempt == 0 {
			continue
		}
		if errors.Is(err, errCold) {
			err = fmt.Errorf("jail: the %s zygote failed twice before forking the run", run.Guest)
		}
		return res, err
	}
}

func (b *Backend) runGuestOnce(ctx context.Context, w *warmPath, filter []byte, l *lang.Language, req *sandrun.Request, run *guest.Run) (*sandrun.Result, error) {
	z, err := awaitZygote(ctx, w, run.Guest)
	if err != nil {
		return nil, err
	}
	var slot int
	select {
	case slot = <-z.slots:
	case <-z.dead:
		return nil, errCold
	case <-ctx.Done():
		return nil, fmt.Errorf("jail: waiting for a free %s child: %w", run.Guest, ctx.Err())
	}
	lim := req.Limits.WithDefaults()
	cfg, err := json.Marshal(b.guestConfig(l, lim, filter, run.Config))
	if err != nil {
		z.put(slot)
		return nil, err
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		z.put(slot)
		return nil, &SetupError{Layer: LayerProtocol, Errno: errnoOf(err), Detail: "the guest's channel"}
	}
	gs := &guestStart{config: cfg, childEnd: pair[1], log: b.opts.Logger}
	defer func() {
		if !gs.handedOff {
			gs.closeChild()
		}
	}()
	pf := os.NewFile(uintptr(pair[0]), "guest-channel")
	conn, err := net.FileConn(pf)
	pf.Close()
	if err != nil {
		z.put(slot)
		return nil, &SetupError{Layer: LayerProtocol, Errno: errnoOf(err), Detail: "the guest's channel"}
	}
	defer conn.Close()
	r := &warmRun{z: z, slot: slot, pidfd: -1, lim: lim, t0: time.Now(), guest: gs}
	stdout := capture.New("stdout", int64(lim.Output), req.OnOutput, func() { r.kill(verdict.KillOutput, "stdout") })
	stderr := capture.New("stderr", int64(lim.Output), req.OnOutput, func() { r.kill(verdict.KillOutput, "stderr") })
	if err := r.begin(b, l, req, nil, stdout, stderr); err != nil {
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

// guestConfig is a guest child's config: the entry's, and the layers.
func (b *Backend) guestConfig(l *lang.Language, lim sandrun.Limits, filter []byte, entry []byte) *guestConfig {
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
	return &guestConfig{
		Config: entry, Rlimits: rlimitsOf(lim), Seccomp: filter, Landlock: ll,
		Sys: map[string]int{
			"capset": unix.SYS_CAPSET, "close_range": unix.SYS_CLOSE_RANGE,
			"landlock_create_ruleset": unix.SYS_LANDLOCK_CREATE_RULESET,
			"landlock_add_rule":       unix.SYS_LANDLOCK_ADD_RULE,
			"landlock_restrict_self":  unix.SYS_LANDLOCK_RESTRICT_SELF,
		},
	}
}
