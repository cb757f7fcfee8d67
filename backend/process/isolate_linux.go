//go:build linux

package process

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/cgroup"
	"github.com/sandrun/sandrun/internal/uidslot"
)

// The uids the tier runs programs under when its supervisor is root: a
// range of its own below the jail's (1800000000 and up), so a program of
// this tier never shares a uid with a jailed one, and flock'd slots so two
// concurrent runs (of any supervisor on the host) never share one.
const (
	DefaultUIDBase  = 1_799_000_000
	DefaultUIDCount = 65536
)

// cgroupDir holds the tier's per-run cgroups in every hierarchy.
const cgroupDir = "sandrun-process"

// isolation is what the tier adds around a program beyond rlimits: as
// root, an unprivileged uid of the run's own, a cgroup (so a setsid
// grandchild or a supervisor crash cannot leave anything running past the
// run or the next start's sweep), and a view of the filesystem in which
// that uid reaches the runtime. Without root, the supervisor's own uid and
// a cgroup when cgroups are delegated.
type isolation struct {
	root   bool
	slots  *uidslot.Pool   // root only
	cg     *cgroup.Manager // nil: no cgroups (then cgErr says why)
	cgErr  error
	views  views
	logger *slog.Logger
}

func newIsolation(opts Options) (*isolation, error) {
	is := &isolation{root: os.Geteuid() == 0, logger: opts.Logger}
	// Under the CPU controller, so that each run has a CPU group of its
	// own and the tier's parent weighs one plain process per run: in the
	// supervisor's group (or under a parent of one process's weight)
	// concurrent runs would share one process's part of a busy host.
	if is.cg, is.cgErr = cgroup.New(cgroupDir, "", true); is.cg != nil {
		is.cg.SetLogger(opts.Logger)
	}
	if !is.root {
		return is, nil
	}
	// As root both are required: fail closed.
	if is.cgErr != nil {
		return nil, fmt.Errorf("process: the run cgroup: %w", is.cgErr)
	}
	state := opts.StateDir
	if state == "" {
		state = "/run/sandrun-process"
	}
	base, count := opts.UIDBase, opts.UIDCount
	if base == 0 {
		base = DefaultUIDBase
	}
	if count == 0 {
		count = DefaultUIDCount
	}
	var err error
	if is.slots, err = uidslot.New(filepath.Join(state, "uids"), base, count); err != nil {
		return nil, fmt.Errorf("process: uid slots: %w", err)
	}
	return is, nil
}

// sweep removes what supervisors that died left: their runs' processes
// and cgroups, and the files their runs' uids left in the host's shared
// directories (for uids no live run holds).
func (is *isolation) sweep() {
	if is.cg != nil {
		if n, err := is.cg.Sweep(); err != nil {
			is.logger.Warn("sweeping stale process-tier cgroups", "err", err)
		} else if n > 0 {
			is.logger.Info("killed the runs of dead supervisors", "cgroups", n)
		}
	}
	if is.slots == nil {
		return
	}
	n := 0
	for uid, paths := range sharedLeftovers(is.slots.Contains) {
		release, ok, err := is.slots.Hold(uid)
		if err != nil || !ok {
			continue // a live run holds it; its supervisor cleans up
		}
		n += removeAll(paths)
		removeIPC(uid)
		release()
	}
	if n > 0 {
		is.logger.Info("removed files left by dead runs", "count", n)
	}
}

// identity is one run's: its uid, cgroup and view.
type identity struct {
	uid, gid int // -1: the supervisor's own
	group    *cgroup.Group
	view     *view
	warn     string // a protection this run lacks (non-root without cgroups)
	release  func()
}

// acquire sets up a run's identity. need are the paths the program must
// reach (interpreter, runtime, work dir base).
func (is *isolation) acquire(lim sandrun.Limits, need []string) (_ *identity, err error) {
	id := &identity{uid: -1, gid: -1}
	var undo []func()
	id.release = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	defer func() {
		if err != nil {
			id.release()
		}
	}()
	if is.root {
		slot, err := is.slots.AcquireSlot()
		if err != nil {
			return nil, fmt.Errorf("uid slot: %w", err)
		}
		uid := slot.UID
		// The last step of the release: the slot is marked clean only
		// when the cleanup below removed everything.
		cleaned := false
		undo = append(undo, func() { slot.Release(cleaned) })
		id.uid, id.gid = int(uid), int(uid)
		if !slot.Clean {
			// Its last holder died mid-run (or never marked it): its
			// processes and files under this uid must not reach this run.
			if _, err := is.cg.Sweep(); err != nil {
				slot.Release(false)
				return nil, fmt.Errorf("sweeping stale cgroups before reusing uid %d: %w", uid, err)
			}
			is.cleanUID(uid)
		}
		undo = append(undo, func() { cleaned = is.cleanUID(uid) })
		if id.view, err = is.views.forPaths(need); err != nil {
			return nil, err
		}
	}
	if is.cg == nil {
		id.warn = "process tier without a cgroup (" + is.cgErr.Error() + "): a grandchild that calls setsid can outlive the run"
		return id, nil
	}
	g, err := is.cg.Create(cgroup.Limits{Memory: int64(lim.Memory), Pids: lim.Processes})
	if err != nil {
		if is.root {
			return nil, fmt.Errorf("run cgroup: %w", err)
		}
		id.warn = "process tier without a cgroup (" + err.Error() + "): a grandchild that calls setsid can outlive the run"
		return id, nil
	}
	id.group = g
	undo = append(undo, func() {
		if err := g.Remove(); err != nil {
			is.logger.Error("removing run cgroup", "err", err)
		}
	})
	return id, nil
}

// cleanUID removes what uid left in the host's shared directories and
// its System V IPC objects, and reports whether all of it went.
func (is *isolation) cleanUID(uid uint32) bool {
	paths := sharedLeftovers(func(u uint32) bool { return u == uid })[uid]
	ok := removeAll(paths) == len(paths)
	return removeIPC(uid) && ok
}

// chown gives the work dir tree to the run's uid.
func (id *identity) chown(dir string) error {
	if id.uid < 0 {
		return nil
	}
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, id.uid, id.gid)
	})
}

// groupStats reads the run cgroup's CPU time, memory peak and whether
// its OOM killer acted; ok is false without a cgroup.
func (id *identity) groupStats() (cpu time.Duration, peak int64, oom, ok bool) {
	if id.group == nil {
		return 0, 0, false, false
	}
	st := id.group.Stats()
	return st.CPU, st.PeakMem, st.OOMKills > 0, true
}

// kill ends every process of the run's cgroup (nil-safe).
func (id *identity) kill() {
	if id != nil && id.group != nil {
		id.group.Kill()
	}
}

func (is *isolation) close() { is.views.close() }
