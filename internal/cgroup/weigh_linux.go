//go:build linux

package cgroup

import (
	"log/slog"
	"os"
	"strconv"
)

// CPU weights of one plain process: v1 cpu.shares and v2 cpu.weight of
// a nice-0 task, and the most each file takes.
const (
	v1Shares, v1SharesMax = 1024, 262144
	v2Weight, v2WeightMax = 100, 10000
)

// SetLogger names where a failure to weigh the base is reported (once).
// Call it before the first Create.
func (m *Manager) SetLogger(l *slog.Logger) { m.logger = l }

// reweigh gives the base (the parent of every run's group) the CPU
// weight of as many plain processes as it holds runs. The scheduler
// shares the CPU among siblings by weight: a base with one process's
// weight would make every concurrent run together count as one process
// against the host's, starving them under load. Each run's own group
// keeps the default weight, so runs share the base's part equally; each
// is still capped by its own bandwidth quota, if it has one.
//
// The count is of the groups under the base, every supervisor's (several
// may share the base), less this supervisor's idle ones (made ahead of a
// run, SetIdle): the weight of a group with nothing runnable goes to the
// busy ones, so an over-count gives busy runs more than a plain
// process's share, never less. Other supervisors' idle groups are counted
// (their state is not known here). A failure costs fairness, not
// isolation: it is logged once, not fatal. Managers without the CPU
// controller leave the base alone.
func (m *Manager) reweigh() {
	if !m.weigh {
		return
	}
	m.weighMu.Lock()
	defer m.weighMu.Unlock()
	file, unit, most, base := "cpu.shares", v1Shares, v1SharesMax, m.bases["cpu"]
	if m.v2 {
		file, unit, most, base = "cpu.weight", v2Weight, v2WeightMax, m.bases[""]
	}
	n := 0
	ents, err := os.ReadDir(base)
	if err == nil {
		for _, e := range ents {
			if _, ok := OwnerPID(e.Name()); ok && e.IsDir() {
				n++
			}
		}
		w := min(max(n-m.idle, 1)*unit, most)
		wr := m.weighWrite
		if wr == nil {
			wr = write
		}
		err = wr(base, file, strconv.Itoa(w))
	}
	if err != nil {
		m.weighWarn.Do(func() {
			if m.logger != nil {
				m.logger.Warn("cgroup: cannot set the CPU weight of the runs' parent group; under load runs may get less CPU than plain processes", "dir", base, "err", err)
			}
		})
	}
}

// SetIdle marks a group as holding no run yet (made ahead of time, a
// prestarted process waiting for its run) or again as a run's, and
// reweighs the base.
func (g *Group) SetIdle(idle bool) {
	if g.m == nil || g.idle == idle {
		return
	}
	g.m.weighMu.Lock()
	g.idle = idle
	if idle {
		g.m.idle++
	} else {
		g.m.idle--
	}
	g.m.weighMu.Unlock()
	g.m.reweigh()
}

// forget drops a removed group from the idle count and reweighs.
func (m *Manager) forget(g *Group) {
	m.weighMu.Lock()
	if g.idle {
		g.idle = false
		m.idle--
	}
	m.weighMu.Unlock()
	m.reweigh()
}
