//go:build linux

package jail

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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupRoot is where the kernel mounts cgroups.
const cgroupRoot = "/sys/fs/cgroup"

// cgroupDirName is the parent directory of every jail cgroup this package
// makes; per-run groups are named <supervisor pid>-<random> so the
// startup sweep can tell a dead supervisor's leftovers from live ones.
const cgroupDirName = "sandrun-jail"

// cgroupLimits are what the cgroup layer enforces.
type cgroupLimits struct {
	Memory int64   // bytes, memory+swap (swap is off)
	Pids   int     // processes and threads
	CPUs   float64 // CPU bandwidth in CPUs (quota/period)
}

// cgroupStats are read after (or during) the run.
type cgroupStats struct {
	CPU      time.Duration
	PeakMem  int64
	OOMKills int64
}

// cgroupManager makes per-run cgroups on one host layout.
type cgroupManager struct {
	v2 bool
	// bases maps a v1 controller name to its sandrun-jail directory; for
	// v2 the single base is under "".
	bases map[string]string
	// selfMove: a thread may move itself into a run's v1 group (root),
	// so the init is born there (see Backend.startIn).
	selfMove bool

	// weighMu serialises this supervisor's updates of the base's CPU
	// weight (see reweigh).
	weighMu    sync.Mutex
	idle       int // this supervisor's groups that hold no run yet (setIdle)
	weighWarn  sync.Once
	weighWrite func(dir, file, val string) error // nil: write; tests replace it
	logger     *slog.Logger                      // nil: discard
}

// cgroup is one run's group.
type cgroup struct {
	v2   bool
	dirs map[string]string // controller (or "") -> directory
	m    *cgroupManager    // nil in tests of the file formats
	idle bool              // see setIdle
}

// cgroupMode reports "v2", "v1" (hybrid or legacy) or "" (none found).
func cgroupMode() string {
	var st unix.Statfs_t
	if unix.Statfs(cgroupRoot, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "v2"
	}
	if _, err := os.Stat(filepath.Join(cgroupRoot, "memory", "memory.limit_in_bytes")); err == nil {
		return "v1"
	}
	return ""
}

var v1Controllers = []string{"memory", "pids", "cpu", "cpuacct"}

// newCgroupManager finds the layout and makes (or checks) the base
// directories. parent overrides the v2 base (a delegated subtree for
// rootless use).
func newCgroupManager(parent string) (*cgroupManager, error) {
	switch cgroupMode() {
	case "v2":
		base := parent
		if base == "" {
			base = filepath.Join(cgroupRoot, cgroupDirName)
		}
		err := os.MkdirAll(base, 0o755)
		if err == nil {
			err = unix.Access(base, unix.W_OK|unix.X_OK)
		}
		if err != nil {
			return nil, fmt.Errorf("cgroup v2: cannot create groups under %s: %w (cgroups are not delegated to uid %d; run as root, set the cgroup parent to a delegated subtree, or downgrade the cgroup layer)", base, err, os.Getuid())
		}
		// Enable the controllers for the per-run children: in the
		// parent of base (the root, or the delegated parent) and in base.
		for _, d := range []string{filepath.Dir(base), base} {
			for _, c := range []string{"memory", "pids", "cpu"} {
				_ = os.WriteFile(filepath.Join(d, "cgroup.subtree_control"), []byte("+"+c), 0)
			}
		}
		have, err := os.ReadFile(filepath.Join(base, "cgroup.subtree_control"))
		if err != nil {
			return nil, fmt.Errorf("cgroup v2: %w", err)
		}
		for _, c := range []string{"memory", "pids", "cpu"} {
			if !bytes.Contains(have, []byte(c)) {
				return nil, fmt.Errorf("cgroup v2: controller %s is not enabled in %s (not delegated to uid %d?)", c, base, os.Getuid())
			}
		}
		return &cgroupManager{v2: true, bases: map[string]string{"": base}}, nil
	case "v1":
		m := &cgroupManager{bases: map[string]string{}, selfMove: os.Geteuid() == 0}
		seen := map[string]bool{}
		for _, c := range v1Controllers {
			root, err := filepath.EvalSymlinks(filepath.Join(cgroupRoot, c))
			if err != nil {
				return nil, fmt.Errorf("cgroup v1: controller %s is not mounted under %s", c, cgroupRoot)
			}
			base := filepath.Join(root, cgroupDirName)
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
				return nil, fmt.Errorf("cgroup v1: cannot create groups under %s: %w (cgroups are not delegated to uid %d; run as root or downgrade the cgroup layer)", base, err, os.Getuid())
			}
			m.bases[c] = base
		}
		return m, nil
	}
	return nil, errors.New("no cgroup hierarchy with a memory controller found under " + cgroupRoot)
}

// create makes one run's group and applies the limits.
func (m *cgroupManager) create(lim cgroupLimits) (*cgroup, error) {
	var r [6]byte
	_, _ = rand.Read(r[:])
	name := fmt.Sprintf("%d-%s", os.Getpid(), hex.EncodeToString(r[:]))
	g := &cgroup{v2: m.v2, dirs: map[string]string{}, m: m}
	made := map[string]bool{}
	for c, base := range m.bases {
		d := filepath.Join(base, name)
		g.dirs[c] = d
		if made[d] {
			continue
		}
		if err := os.Mkdir(d, 0o755); err != nil {
			g.remove()
			return nil, err
		}
		made[d] = true
	}
	if err := g.set(lim); err != nil {
		g.remove()
		return nil, err
	}
	m.reweigh()
	return g, nil
}

// CPU weights of one plain process: v1 cpu.shares and v2 cpu.weight of
// a nice-0 task, and the most each file takes.
const (
	v1Shares, v1SharesMax = 1024, 262144
	v2Weight, v2WeightMax = 100, 10000
)

// reweigh gives the base (the parent of every run's group) the CPU
// weight of as many plain processes as it holds runs. The scheduler
// shares the CPU among siblings by weight: a base with one process's
// weight would make every concurrent run together count as one process
// against the host's, starving them under load. Each run's own group
// keeps the default weight, so runs share the base's part equally; each
// is still capped by its own bandwidth quota (Options.CPUs).
//
// The count is of the groups under the base, every supervisor's (several
// may share the base), less this supervisor's idle ones (prestarted
// inits waiting for a run, setIdle): the weight of a group with nothing
// runnable goes to the busy ones, so an over-count gives busy runs more
// than a plain process's share, never less. Other supervisors' idle
// groups are counted (their state is not known here). A failure costs
// fairness, not isolation: it is logged once, not fatal.
func (m *cgroupManager) reweigh() {
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
			if _, ok := ownerPID(e.Name()); ok && e.IsDir() {
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
				m.logger.Warn("jail: cannot set the CPU weight of the runs' parent cgroup; under load runs may get less CPU than plain processes", "dir", base, "err", err)
			}
		})
	}
}

// setIdle marks a group as holding no run yet (a prestarted init) or
// again as a run's, and reweighs.
func (g *cgroup) setIdle(idle bool) {
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

// enter moves the calling thread (locked to its goroutine) into the
// group, so that a process it forks is born there, and returns how to
// move it back. v2 needs nothing here: the clone itself names the group
// (CLONE_INTO_CGROUP, see cloneInto). Only the thread moves: the kernel
// skips its global lock for a thread that moves itself. On an error the
// thread may sit partly in the group: the caller discards it.
func (g *cgroup) enter() (leave func() error, err error) {
	if g.v2 || g.m == nil || !g.m.selfMove {
		return nil, nil
	}
	home, err := threadCgroups()
	if err != nil {
		return nil, err
	}
	var back []string
	done := map[string]bool{}
	for c, d := range g.dirs {
		if done[d] {
			continue
		}
		done[d] = true
		h, ok := home[c]
		if !ok {
			return nil, fmt.Errorf("cgroup v1: this thread is in no %s group", c)
		}
		back = append(back, filepath.Join(cgroupRoot, c, h))
		if err := write(d, "tasks", "0"); err != nil {
			return nil, err
		}
	}
	return func() error {
		for _, d := range back {
			if err := write(d, "tasks", "0"); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

// threadCgroups reads the calling thread's v1 groups: controller ->
// path within its hierarchy.
func threadCgroups() (map[string]string, error) {
	b, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, nil
}

// cloneInto returns the fd of a v2 group for CLONE_INTO_CGROUP (the
// caller closes it), or -1 when the group is v1 (see enter).
func (g *cgroup) cloneInto() (int, error) {
	if !g.v2 {
		return -1, nil
	}
	return unix.Open(g.dirs[""], unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

// bornInside says whether a process started through Backend.startIn is
// born in the group; otherwise the caller moves it with add.
func (g *cgroup) bornInside() bool {
	return g.v2 || (g.m != nil && g.m.selfMove)
}

func write(dir, file, val string) error {
	if err := os.WriteFile(filepath.Join(dir, file), []byte(val), 0); err != nil {
		return fmt.Errorf("cgroup %s: %w", file, err)
	}
	return nil
}

// set applies (or tightens) the limits.
func (g *cgroup) set(lim cgroupLimits) error {
	period := 100000
	quota := int(lim.CPUs * float64(period))
	if g.v2 {
		d := g.dirs[""]
		mem := strconv.FormatInt(lim.Memory, 10)
		if err := write(d, "memory.max", mem); err != nil {
			return err
		}
		if err := write(d, "memory.swap.max", "0"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := write(d, "pids.max", strconv.Itoa(lim.Pids)); err != nil {
			return err
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
	if err := write(g.dirs["pids"], "pids.max", strconv.Itoa(lim.Pids)); err != nil {
		return err
	}
	if quota > 0 {
		if err := write(g.dirs["cpu"], "cpu.cfs_period_us", strconv.Itoa(period)); err != nil {
			return err
		}
		return write(g.dirs["cpu"], "cpu.cfs_quota_us", strconv.Itoa(quota))
	}
	return nil
}

// add moves a process (and its threads) into the group.
func (g *cgroup) add(pid int) error {
	done := map[string]bool{}
	for _, d := range g.dirs {
		if done[d] {
			continue
		}
		done[d] = true
		if err := write(d, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// stats reads CPU time, peak memory and the OOM kill count.
func (g *cgroup) stats() cgroupStats {
	var s cgroupStats
	if g.v2 {
		d := g.dirs[""]
		if v, ok := keyed(filepath.Join(d, "cpu.stat"), "usage_usec"); ok {
			s.CPU = time.Duration(v) * time.Microsecond
		}
		s.PeakMem = readInt(filepath.Join(d, "memory.peak"))
		s.OOMKills, _ = keyed(filepath.Join(d, "memory.events"), "oom_kill")
		return s
	}
	s.CPU = time.Duration(readInt(filepath.Join(g.dirs["cpuacct"], "cpuacct.usage")))
	s.PeakMem = readInt(filepath.Join(g.dirs["memory"], "memory.max_usage_in_bytes"))
	// memory.failcnt stays 0 on these kernels; oom_control counts kills.
	s.OOMKills, _ = keyed(filepath.Join(g.dirs["memory"], "memory.oom_control"), "oom_kill")
	return s
}

// cpu reads only the CPU time (the supervisor polls it).
func (g *cgroup) cpu() time.Duration {
	if g.v2 {
		v, _ := keyed(filepath.Join(g.dirs[""], "cpu.stat"), "usage_usec")
		return time.Duration(v) * time.Microsecond
	}
	return time.Duration(readInt(filepath.Join(g.dirs["cpuacct"], "cpuacct.usage")))
}

// kill ends every process in the group.
func (g *cgroup) kill() {
	if g.v2 {
		if write(g.dirs[""], "cgroup.kill", "1") == nil {
			return
		}
	}
	for _, d := range g.dirs {
		killProcs(d)
	}
}

// remove kills what is left and deletes the group's directories.
func (g *cgroup) remove() error {
	var errs []error
	done := map[string]bool{}
	for _, d := range g.dirs {
		if done[d] {
			continue
		}
		done[d] = true
		if err := removeGroup(d); err != nil {
			errs = append(errs, err)
		}
	}
	if g.m != nil {
		if g.idle {
			g.m.weighMu.Lock()
			g.idle = false
			g.m.idle--
			g.m.weighMu.Unlock()
		}
		g.m.reweigh()
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
		killProcs(d)
		time.Sleep(time.Duration(i+1) * time.Millisecond)
	}
	return fmt.Errorf("removing cgroup %s: %w", d, err)
}

func killProcs(d string) {
	b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func readInt(p string) int64 {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return v
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

// sweep removes groups left by supervisors that are no longer running.
// Only names of this package's form under its own base are touched.
func (m *cgroupManager) sweep() (int, error) {
	n := 0
	var errs []error
	done := map[string]bool{}
	for _, base := range m.bases {
		if done[base] {
			continue
		}
		done[base] = true
		ents, err := os.ReadDir(base)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			pid, ok := ownerPID(e.Name())
			if !ok || pid == os.Getpid() || pidAlive(pid) {
				continue
			}
			if err := removeGroup(filepath.Join(base, e.Name())); err != nil {
				errs = append(errs, err)
				continue
			}
			n++
		}
	}
	if n > 0 {
		m.reweigh()
	}
	return n, errors.Join(errs...)
}

// ownerPID parses "<pid>-<hex>".
func ownerPID(name string) (int, bool) {
	p, rest, ok := strings.Cut(name, "-")
	if !ok || rest == "" {
		return 0, false
	}
	if _, err := hex.DecodeString(rest); err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(p)
	return pid, err == nil && pid > 0
}

func pidAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
