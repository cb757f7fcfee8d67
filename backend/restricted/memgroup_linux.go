//go:build linux

package restricted

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/sandrun/sandrun/internal/cgroup"
)

// memGroups puts every worker in a memory cgroup of its own when this
// process may make cgroups (root, or a delegated hierarchy).
//
// RLIMIT_DATA alone does not bound a Go heap: Linux checks a new writable
// private mapping against it only for the pages the mapping adds, and a
// mapping made over address space the runtime reserved earlier (PROT_NONE)
// adds none. Go reserves before it maps, so a single huge allocation
// sometimes went through: 900 MiB under a 4 MiB limit, reproduced in one
// worker run in three. The cgroup counts the memory the worker really
// uses; its OOM kill is the memory limit. RLIMIT_DATA stays as the first,
// cleaner stop (the runtime reports "out of memory" and exits).
type memGroups struct {
	m *cgroup.Manager
}

// cgroupDir holds the workers' cgroups in every hierarchy.
const cgroupDir = "sandrun-restricted"

// newMemGroups returns nil, and why, when cgroups cannot be made here.
func newMemGroups(log *slog.Logger) (*memGroups, error) {
	m, err := cgroup.New(cgroupDir, "", false)
	if err != nil {
		return nil, err
	}
	if n, err := m.Sweep(); err != nil {
		log.Warn("sweeping stale worker cgroups", "err", err)
	} else if n > 0 {
		log.Info("removed the worker cgroups of dead supervisors", "count", n)
	}
	return &memGroups{m: m}, nil
}

// workerGroup is one worker's cgroup.
type workerGroup struct {
	g      *cgroup.Group
	memory int64 // the limit last set
	once   sync.Once
}

// join makes a group for the worker pid and moves it in. The worker has
// not read a run yet: nothing of a program runs outside the group.
func (mg *memGroups) join(pid int, memory int64) (*workerGroup, error) {
	if mg == nil {
		return nil, nil
	}
	g, err := mg.m.Create(cgroup.Limits{Memory: memory})
	if err != nil {
		return nil, fmt.Errorf("worker cgroup: %w", err)
	}
	if err := g.Add(pid); err != nil {
		_ = g.Remove()
		return nil, fmt.Errorf("worker cgroup: %w", err)
	}
	return &workerGroup{g: g, memory: memory}, nil
}

// prepare sets the run's memory limit (no system call when it is the
// last run's).
func (w *workerGroup) prepare(memory int64) error {
	if w == nil || memory == w.memory {
		return nil
	}
	if err := w.g.Set(cgroup.Limits{Memory: memory}); err != nil {
		return err
	}
	w.memory = memory
	return nil
}

// oomKilled reports whether the cgroup's OOM killer acted: during the
// run that just ended, since the group is the worker's alone and a worker
// it killed serves no other run.
func (w *workerGroup) oomKilled() bool {
	return w != nil && w.g.Stats().OOMKills > 0
}

// remove kills what is left of the worker and deletes the group (once).
func (w *workerGroup) remove(log *slog.Logger) {
	if w == nil {
		return
	}
	w.once.Do(func() {
		if err := w.g.Remove(); err != nil {
			log.Warn("removing a worker cgroup", "err", err)
		}
	})
}
