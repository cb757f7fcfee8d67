//go:build linux

// Package cgroup makes one cgroup per run on cgroup v1 or v2: memory
// (swap off), pids and CPU bandwidth limits, usage, a kill of every
// process in the group, and a sweep of the groups of supervisors that are
// no longer running. Groups are named <supervisor pid>-<random hex> under
// a directory of the caller's (sandrun-process, ...), in every v1
// hierarchy or once on v2, so several supervisors share a host and each
// sweep removes only what the dead left.
//
// Under the CPU controller the caller's directory weighs one plain
// process per run group under it (weigh_linux.go), and a process can be
// born in its group instead of moved there (birth_linux.go): the jail,
// its warm path and the process tier share this one implementation.
package cgroup

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Root is where the kernel mounts cgroups.
const Root = "/sys/fs/cgroup"

// Limits are what a group enforces. Zero Pids or CPUs leaves that
// controller unlimited; Memory must be set.
type Limits struct {
	Memory int64   // bytes, memory+swap (swap is off)
	Pids   int     // processes and threads
	CPUs   float64 // CPU bandwidth in CPUs (quota/period)
}

// Stats are read after (or during) a run.
type Stats struct {
	CPU      time.Duration
	PeakMem  int64
	OOMKills int64
}

// Manager makes per-run groups on one host layout.
type Manager struct {
	v2 bool
	// bases maps a v1 controller name to the caller's directory in its
	// hierarchy; for v2 the single base is under "".
	bases map[string]string
	// selfMove: a thread may move itself into a run's v1 group (root),
	// so that a process it forks is born there (Group.Enter).
	selfMove bool

	// weigh: the groups are under the CPU controller, and the base
	// weighs one plain process per run under it (weigh_linux.go).
	weigh      bool
	weighMu    sync.Mutex
	idle       int // this supervisor's groups that hold no run yet (SetIdle)
	weighWarn  sync.Once
	weighWrite func(dir, file, val string) error // nil: write; tests replace it
	logger     *slog.Logger                      // nil: discard
}

// Group is one run's cgroup.
type Group struct {
	v2   bool
	name string
	dirs map[string]string // controller (or "") -> directory
	m    *Manager          // nil in tests of the file formats
	idle bool              // see SetIdle
}

// Mode reports "v2", "v1" (hybrid or legacy) or "" (none found).
func Mode() string {
	var st unix.Statfs_t
	if unix.Statfs(Root, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "v2"
	}
	if _, err := os.Stat(filepath.Join(Root, "memory", "memory.limit_in_bytes")); err == nil {
		return "v1"
	}
	return ""
}

// New finds the layout and makes (or checks) the base directory dirName
// in each hierarchy. parent overrides the v2 base (a delegated subtree
// for rootless use). cpu puts the groups under the CPU controller (for a
// CPU bandwidth limit and a CPU weight of their own); without it their
// CPU time is still counted (cpuacct, cpu.stat). Under the controller
// the base weighs one plain process per run group under it (reweigh),
// so concurrent runs do not share one process's part of a busy host.
func New(dirName, parent string, cpu bool) (*Manager, error) {
	controllers, v1Controllers := []string{"memory", "pids"}, []string{"memory", "pids", "cpuacct"}
	if cpu {
		controllers, v1Controllers = append(controllers, "cpu"), append(v1Controllers, "cpu")
	}
	switch Mode() {
	case "v2":
		base := parent
		if base == "" {
			base = filepath.Join(Root, dirName)
		}
		err := os.MkdirAll(base, 0o755)
		if err == nil {
			err = unix.Access(base, unix.W_OK|unix.X_OK)
		}
		if err != nil {
			return nil, fmt.Errorf("cgroup v2: cannot create groups under %s: %w (cgroups are not delegated to uid %d; run as root or set the cgroup parent to a delegated subtree)", base, err, os.Getuid())
		}
		// Enable the controllers for the per-run children: in the
		// parent of base (the root, or the delegated parent) and in base.
		for _, d := range []string{filepath.Dir(base), base} {
			for _, c := range controllers {
				_ = os.WriteFile(filepath.Join(d, "cgroup.subtree_control"), []byte("+"+c), 0)
			}
		}
		have, err := os.ReadFile(filepath.Join(base, "cgroup.subtree_control"))
		if err != nil {
			return nil, fmt.Errorf("cgroup v2: %w", err)
		}
		for _, c := range controllers {
			if !bytes.Contains(have, []byte(c)) {
				return nil, fmt.Errorf("cgroup v2: controller %s is not enabled in %s (not delegated to uid %d?)", c, base, os.Getuid())
			}
		}
		return &Manager{v2: true, bases: map[string]string{"": base}, weigh: cpu}, nil
	case "v1":
		m := &Manager{bases: map[string]string{}, selfMove: os.Geteuid() == 0, weigh: cpu}
		seen := map[string]bool{}
		for _, c := range v1Controllers {
			root, err := filepath.EvalSymlinks(filepath.Join(Root, c))
			if err != nil {
				return nil, fmt.Errorf("cgroup v1: controller %s is not mounted under %s", c, Root)
			}
			base := filepath.Join(root, dirName)
			if seen[base] {
				m.bases[c] = base // co-mounted (cpu,cpuacct): one directory
				continue
			}
			seen[base] = true
			err = os.MkdirAll(base, 0o755)
			if err == nil {
				err = unix.Access(base, unix.W_OK|unix.X_OK)
			}
			if err != nil {
				return nil, fmt.Errorf("cgroup v1: cannot create groups under %s: %w (cgroups are not delegated to uid %d; run as root)", base, err, os.Getuid())
			}
			m.bases[c] = base
		}
		return m, nil
	}
	return nil, errors.New("no cgroup hierarchy with a memory controller found under " + Root)
}

// V2 reports whether the manager works on the unified hierarchy.
func (m *Manager) V2() bool { return m.v2 }

// Bases lists the base directories, one per hierarchy.
func (m *Manager) Bases() []string {
	var out []string
	for d := range distinct(m.bases) {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// distinct maps each distinct directory of dirs (co-mounted v1
// controllers share one) to a controller that names it.
func distinct(dirs map[string]string) map[string]string {
	out := make(map[string]string, len(dirs))
	for c, d := range dirs {
		out[d] = c
	}
	return out
}

// Create makes one run's group and applies the limits.
func (m *Manager) Create(lim Limits) (*Group, error) {
	var r [6]byte
	_, _ = rand.Read(r[:])
	name := fmt.Sprintf("%d-%s", os.Getpid(), hex.EncodeToString(r[:]))
	g := &Group{v2: m.v2, name: name, dirs: map[string]string{}, m: m}
	made := map[string]bool{}
	for c, base := range m.bases {
		d := filepath.Join(base, name)
		g.dirs[c] = d
		if made[d] {
			continue
		}
		if err := os.Mkdir(d, 0o755); err != nil {
			_ = g.Remove()
			return nil, err
		}
		made[d] = true
	}
	if err := g.Set(lim); err != nil {
		_ = g.Remove()
		return nil, err
	}
	m.reweigh()
	return g, nil
}

// Name is the group's directory name (<supervisor pid>-<hex>).
func (g *Group) Name() string { return g.name }

func write(dir, file, val string) error {
	if err := os.WriteFile(filepath.Join(dir, file), []byte(val), 0); err != nil {
		return fmt.Errorf("cgroup %s: %w", file, err)
	}
	return nil
}

// Set applies (or tightens) the limits.
func (g *Group) Set(lim Limits) error {
	period := 100000
	quota := int(lim.CPUs * float64(period))
	if g.v2 {
		d := g.dirs[""]
		if err := write(d, "memory.max", strconv.FormatInt(lim.Memory, 10)); err != nil {
			return err
		}
		if err := write(d, "memory.swap.max", "0"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if lim.Pids > 0 {
			if err := write(d, "pids.max", strconv.Itoa(lim.Pids)); err != nil {
				return err
			}
		}
		if quota > 0 {
			return write(d, "cpu.max", fmt.Sprintf("%d %d", quota, period))
		}
		return nil
	}
	mem := strconv.FormatInt(lim.Memory, 10)
	md := g.dirs["memory"]
	// memsw must stay >= the memory limit: lower memsw last when
	// tightening, raise it first when loosening. Try both orders.
	_ = write(md, "memory.swappiness", "0")
	err := write(md, "memory.limit_in_bytes", mem)
	if _, serr := os.Stat(filepath.Join(md, "memory.memsw.limit_in_bytes")); serr == nil {
		if err2 := write(md, "memory.memsw.limit_in_bytes", mem); err2 != nil {
			return err2
		}
		if err != nil {
			err = write(md, "memory.limit_in_bytes", mem)
		}
	}
	if err != nil {
		return err
	}
	if lim.Pids > 0 {
		if err := write(g.dirs["pids"], "pids.max", strconv.Itoa(lim.Pids)); err != nil {
			return err
		}
	}
	if quota > 0 {
		if g.dirs["cpu"] == "" {
			return errors.New("cgroup: a CPU limit needs the cpu controller (cgroup.New with cpu)")
		}
		if err := write(g.dirs["cpu"], "cpu.cfs_period_us", strconv.Itoa(period)); err != nil {
			return err
		}
		return write(g.dirs["cpu"], "cpu.cfs_quota_us", strconv.Itoa(quota))
	}
	return nil
}

// Add moves a process (and its threads) into the group.
func (g *Group) Add(pid int) error {
	for d := range distinct(g.dirs) {
		if err := write(d, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// Stats reads CPU time, peak memory and the OOM kill count.
func (g *Group) Stats() Stats {
	var s Stats
	s.CPU = g.CPU()
	if g.v2 {
		d := g.dirs[""]
		s.PeakMem = ReadInt(filepath.Join(d, "memory.peak"))
		s.OOMKills, _ = keyed(filepath.Join(d, "memory.events"), "oom_kill")
		return s
	}
	s.PeakMem = ReadInt(filepath.Join(g.dirs["memory"], "memory.max_usage_in_bytes"))
	// memory.failcnt stays 0 on these kernels; oom_control counts kills.
	s.OOMKills, _ = keyed(filepath.Join(g.dirs["memory"], "memory.oom_control"), "oom_kill")
	return s
}

// CPU reads only the CPU time (a supervisor polls it).
func (g *Group) CPU() time.Duration {
	if g.v2 {
		v, _ := keyed(filepath.Join(g.dirs[""], "cpu.stat"), "usage_usec")
		return time.Duration(v) * time.Microsecond
	}
	return time.Duration(ReadInt(filepath.Join(g.dirs["cpuacct"], "cpuacct.usage")))
}

// Kill sends SIGKILL to every process in the group (v2: cgroup.kill,
// which also catches a process forking meanwhile).
func (g *Group) Kill() {
	if g.v2 {
		if write(g.dirs[""], "cgroup.kill", "1") == nil {
			return
		}
	}
	for _, d := range g.dirs {
		KillProcs(d)
	}
}

// Empty reports whether no process is left in the group.
func (g *Group) Empty() bool {
	for _, d := range g.dirs {
		b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err == nil && len(bytes.TrimSpace(b)) > 0 {
			return false
		}
	}
	return true
}

// Remove kills what is left and deletes the group's directories.
func (g *Group) Remove() error {
	var errs []error
	for d := range distinct(g.dirs) {
		if err := removeGroup(d); err != nil {
			errs = append(errs, err)
		}
	}
	if g.m != nil {
		g.m.forget(g)
	}
	return errors.Join(errs...)
}

func removeGroup(d string) error {
	var err error
	for i := 0; i < 50; i++ {
		err = unix.Rmdir(d)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		KillProcs(d)
		time.Sleep(time.Duration(i+1) * time.Millisecond)
	}
	return fmt.Errorf("removing cgroup %s: %w", d, err)
}

// KillProcs sends SIGKILL to every process listed in the cgroup directory
// d (not its children).
func KillProcs(d string) {
	b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// keyed reads "key value" lines (memory.events, cpu.stat, oom_control).
func keyed(p, key string) (int64, bool) {
	f, err := os.Open(p)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// Sweep kills the processes of, and removes, the groups left by
// supervisors that are no longer running, and returns how many groups
// went. Only names of this package's form under the manager's own bases
// are touched; a live supervisor's groups never are.
func (m *Manager) Sweep() (int, error) {
	gone := map[string]bool{}
	var errs []error
	for base := range distinct(m.bases) {
		ents, err := os.ReadDir(base)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			pid, ok := OwnerPID(e.Name())
			if !ok || pid == os.Getpid() || PIDAlive(pid) {
				continue
			}
			if err := removeGroup(filepath.Join(base, e.Name())); err != nil {
				errs = append(errs, err)
				continue
			}
			gone[e.Name()] = true
		}
	}
	if len(gone) > 0 {
		m.reweigh()
	}
	return len(gone), errors.Join(errs...)
}
