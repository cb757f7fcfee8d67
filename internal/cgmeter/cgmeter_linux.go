//go:build linux

// Package cgmeter measures a run's CPU time and memory peak through a
// parent cgroup of its own. Container runtimes (dockerd, runsc) delete a
// container's cgroup when it exits, before the supervisor can read it, but
// they create it under a parent path the caller names; the parent's
// counters are hierarchical and outlive the child: memory.max_usage_in_bytes
// (v1) or memory.peak (v2) is the run's peak, cpuacct.usage (v1) or
// cpu.stat usage_usec (v2) its CPU time.
package cgmeter

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/cgroup"
)

// cgroupRoot is where the host's cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// Meter owns one directory (under each hierarchy) holding one parent
// cgroup per run. Only a runtime that takes cgroup paths (the cgroupfs
// driver) can be measured this way; with systemd slices usage stays zero.
type Meter struct {
	v2        bool
	parentDir string
}

// New returns a meter for runs under /<parentDir>/<run> in every
// hierarchy, or nil when this host's cgroups cannot be read this way.
// version is "1" or "2" (as the engine reports it); "" means detect.
func New(parentDir, version string) *Meter {
	if version == "" {
		version = "1"
		if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err == nil {
			version = "2"
		}
	}
	if version == "2" {
		if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err != nil {
			return nil
		}
		return &Meter{v2: true, parentDir: parentDir}
	}
	if _, err := os.Stat(filepath.Join(cgroupRoot, "memory")); err != nil {
		return nil
	}
	return &Meter{parentDir: parentDir}
}

// Parent is the cgroup path under which the runtime must create the run's
// cgroup (docker's --cgroup-parent).
func (m *Meter) Parent(runID string) string { return "/" + m.parentDir + "/" + runID }

// Read returns the run's CPU time and memory peak.
func (m *Meter) Read(runID string) (cpu time.Duration, peak int64) {
	parentDir := m.parentDir
	if m.v2 {
		dir := filepath.Join(cgroupRoot, parentDir, runID)
		peak = cgroup.ReadInt(filepath.Join(dir, "memory.peak"))
		if b, err := os.ReadFile(filepath.Join(dir, "cpu.stat")); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
					us, _ := strconv.ParseInt(v, 10, 64)
					cpu = time.Duration(us) * time.Microsecond
				}
			}
		}
		return cpu, peak
	}
	peak = cgroup.ReadInt(filepath.Join(cgroupRoot, "memory", parentDir, runID, "memory.max_usage_in_bytes"))
	cpu = time.Duration(cgroup.ReadInt(filepath.Join(cgroupRoot, "cpuacct", parentDir, runID, "cpuacct.usage")))
	return cpu, peak
}

// Remove deletes the run's parent cgroup in every hierarchy. The runtime
// may still be removing the container's own cgroup; retry briefly, and
// leave the rest to the sweep.
//
// The runtime's own group under it (the container's) is removed too,
// children first, once it is empty: the runtime removes it when it gets to
// it, which under load took seconds in some hierarchies (the named systemd
// one, the unified one of a hybrid host), and only an empty group can be
// removed, so nothing that still runs is touched.
func (m *Meter) Remove(runID string) error {
	var last error
	for try := 0; try < 20; try++ {
		last = nil
		for _, d := range m.dirs(runID) {
			if err := rmTree(d, false); err != nil {
				last = err
			}
		}
		if last == nil {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return last
}

func (m *Meter) dirs(runID string) []string {
	parentDir := m.parentDir
	if m.v2 {
		return []string{filepath.Join(cgroupRoot, parentDir, runID)}
	}
	ents, _ := os.ReadDir(cgroupRoot)
	var out []string
	for _, e := range ents {
		d := filepath.Join(cgroupRoot, e.Name(), parentDir, runID)
		if _, err := os.Stat(d); err == nil {
			out = append(out, d)
		}
	}
	return out
}

// Sweep removes the run cgroups that supervisors which are no longer
// running left, and returns how many runs it cleared. owner reads the
// supervisor's pid from a run's name (the tier names its runs so); for a
// dead owner every process still in the run's tree (a container
// runtime's sandbox that outlived its supervisor) is killed first. A
// live supervisor's runs are never touched, even when empty (it reads
// their usage after the runtime has emptied them); names owner cannot
// read are removed only when empty.
func (m *Meter) Sweep(owner func(name string) (pid int, ok bool)) int {
	parentDir := m.parentDir
	roots := []string{filepath.Join(cgroupRoot, parentDir)}
	if !m.v2 {
		ents, _ := os.ReadDir(cgroupRoot)
		roots = roots[:0]
		for _, e := range ents {
			roots = append(roots, filepath.Join(cgroupRoot, e.Name(), parentDir))
		}
	}
	gone := map[string]bool{}
	for _, r := range roots {
		ents, _ := os.ReadDir(r)
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			d := filepath.Join(r, e.Name())
			pid, ok := owner(e.Name())
			switch {
			case !ok:
				if os.Remove(d) == nil {
					gone[e.Name()] = true
				}
			case pid != os.Getpid() && !cgroup.PIDAlive(pid):
				if removeTree(d) == nil {
					gone[e.Name()] = true
				}
			}
		}
	}
	return len(gone)
}

// LimitPids caps the processes and threads of the run's whole tree in
// the run's parent cgroup, made ahead of the runtime (which makes its own
// group under it). The parent's pids.peak then tells whether the tree
// reached the cap, after the runtime has removed its own group (whose
// pids.events, on cgroup v1, is the only one counting the refused forks).
func (m *Meter) LimitPids(runID string, max int64) error {
	d := filepath.Join(cgroupRoot, "pids", m.parentDir, runID)
	if m.v2 {
		d = filepath.Join(cgroupRoot, m.parentDir, runID)
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(d, "pids.max"), []byte(strconv.FormatInt(max, 10)), 0)
}

// PidsHit reports whether a fork in the run's tree failed at the cap
// LimitPids set.
func (m *Meter) PidsHit(runID string) bool {
	d := filepath.Join(cgroupRoot, "pids", m.parentDir, runID)
	if m.v2 {
		d = filepath.Join(cgroupRoot, m.parentDir, runID)
	}
	peak, limit := cgroup.ReadInt(filepath.Join(d, "pids.peak")), cgroup.ReadInt(filepath.Join(d, "pids.max"))
	return limit > 0 && peak >= limit
}

// Kill sends SIGKILL to every process in the run's cgroup tree, in every
// hierarchy (a runtime whose own kill did not come through: a sandbox
// still being created).
func (m *Meter) Kill(runID string) {
	for _, d := range m.dirs(runID) {
		_ = filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				cgroup.KillProcs(p)
			}
			return nil
		})
	}
}

// removeTree kills every process in the cgroup tree at d and removes it,
// children first, retrying while the killed processes exit.
func removeTree(d string) error {
	var err error
	for try := 0; try < 50; try++ {
		if err = rmTree(d, true); err == nil {
			return nil
		}
		time.Sleep(time.Duration(try+1) * time.Millisecond)
	}
	return err
}

// rmTree removes the cgroup tree at d, children first, once: with kill,
// after sending SIGKILL to every process in it. A group that still holds
// a process stays (EBUSY), and the last such error is returned.
func rmTree(d string, kill bool) error {
	var tree []string
	_ = filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
		if err == nil && e.IsDir() {
			if kill {
				cgroup.KillProcs(p)
			}
			tree = append(tree, p)
		}
		return nil
	})
	var last error
	for i := len(tree) - 1; i >= 0; i-- {
		if err := os.Remove(tree[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
			last = err
		}
	}
	return last
}

// Apply sets the usage's CPU time and memory peak from the run's cgroup.
func (m *Meter) Apply(runID string, u *sandrun.Usage) {
	cpu, peak := m.Read(runID)
	u.CPUMs = cpu.Milliseconds()
	u.MemoryPeakBytes = peak
}

// Watch calls kill once when the run's CPU time reaches limit, polling
// every 100 ms until stop is closed. It catches what RLIMIT_CPU cannot:
// CPU spread over many processes, each under its own rlimit.
func (m *Meter) Watch(runID string, limit time.Duration, stop <-chan struct{}, kill func()) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if cpu, _ := m.Read(runID); cpu >= limit {
				kill()
				return
			}
		}
	}
}
