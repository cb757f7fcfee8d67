//go:build linux

package jail

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeGroup makes a directory with the files a cgroup would have, so the
// file formats of both versions are checked without a kernel (this host
// is v1 only; v2 runs on most users' machines).
func fakeGroup(t *testing.T, files map[string]string) string {
	d := t.TempDir()
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(d, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func readFile(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestCgroupV2Files(t *testing.T) {
	d := fakeGroup(t, map[string]string{
		"memory.max": "max", "memory.swap.max": "max", "pids.max": "max", "cpu.max": "max 100000",
		"cpu.stat":      "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n",
		"memory.peak":   "12345678\n",
		"memory.events": "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n",
	})
	g := &cgroup{v2: true, dirs: map[string]string{"": d}}
	if err := g.set(cgroupLimits{Memory: 64 << 20, Pids: 32, CPUs: 1.5}); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]string{"memory.max": "67108864", "memory.swap.max": "0", "pids.max": "32", "cpu.max": "150000 100000"} {
		if got := readFile(t, filepath.Join(d, f)); got != want {
			t.Errorf("%s = %q, want %q", f, got, want)
		}
	}
	s := g.stats()
	if s.CPU != 1500*time.Millisecond || s.PeakMem != 12345678 || s.OOMKills != 1 {
		t.Errorf("stats = %+v", s)
	}
}

func TestCgroupV1Files(t *testing.T) {
	mem := fakeGroup(t, map[string]string{
		"memory.limit_in_bytes": "", "memory.memsw.limit_in_bytes": "", "memory.swappiness": "60",
		"memory.max_usage_in_bytes": "999\n",
		"memory.oom_control":        "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
	})
	pids := fakeGroup(t, map[string]string{"pids.max": "max"})
	cpu := fakeGroup(t, map[string]string{"cpu.cfs_period_us": "", "cpu.cfs_quota_us": "-1"})
	acct := fakeGroup(t, map[string]string{"cpuacct.usage": "2500000000\n"})
	g := &cgroup{dirs: map[string]string{"memory": mem, "pids": pids, "cpu": cpu, "cpuacct": acct}}
	if err := g.set(cgroupLimits{Memory: 32 << 20, Pids: 8, CPUs: 1}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{
		filepath.Join(mem, "memory.limit_in_bytes"): "33554432", filepath.Join(mem, "memory.memsw.limit_in_bytes"): "33554432",
		filepath.Join(mem, "memory.swappiness"): "0", filepath.Join(pids, "pids.max"): "8",
		filepath.Join(cpu, "cpu.cfs_quota_us"): "100000", filepath.Join(cpu, "cpu.cfs_period_us"): "100000",
	} {
		if got := readFile(t, p); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	s := g.stats()
	if s.CPU != 2500*time.Millisecond || s.PeakMem != 999 || s.OOMKills != 2 {
		t.Errorf("stats = %+v", s)
	}
}

func TestOwnerPID(t *testing.T) {
	for name, want := range map[string]int{"123-0a1b2c": 123, "x-0a": 0, "123": 0, "123-zz": 0, "-0a": 0} {
		got, ok := ownerPID(name)
		if (want != 0) != ok || got != want && ok {
			t.Errorf("ownerPID(%q) = %d, %v", name, got, ok)
		}
	}
}

// TestReweigh: the runs' parent gets one plain process's CPU weight per
// run group under it, never less than one, at most the file's maximum.
func TestReweigh(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		base := t.TempDir()
		m := &cgroupManager{v2: v2, bases: map[string]string{"cpu": base, "": base}}
		file, unit := "cpu.shares", v1Shares
		if v2 {
			file, unit = "cpu.weight", v2Weight
		}
		if err := os.WriteFile(filepath.Join(base, file), []byte("1"), 0o644); err != nil {
			t.Fatal(err)
		}
		m.reweigh()
		if got := readFile(t, filepath.Join(base, file)); got != strconv.Itoa(unit) {
			t.Errorf("v2=%v, no runs: %s = %s, want %d", v2, file, got, unit)
		}
		for i := 0; i < 3; i++ {
			os.Mkdir(filepath.Join(base, fmt.Sprintf("%d-%02x", 100+i, i)), 0o755)
		}
		os.Mkdir(filepath.Join(base, "not-a-run"), 0o755)
		m.reweigh()
		if got := readFile(t, filepath.Join(base, file)); got != strconv.Itoa(3*unit) {
			t.Errorf("v2=%v, three runs: %s = %s, want %d", v2, file, got, 3*unit)
		}
		for i := 3; i < 300; i++ {
			os.Mkdir(filepath.Join(base, fmt.Sprintf("%d-%02x", 100+i, i%256)), 0o755)
		}
		m.reweigh()
		want := v1SharesMax
		if v2 {
			want = v2WeightMax
		}
		if got := readFile(t, filepath.Join(base, file)); got != strconv.Itoa(want) {
			t.Errorf("v2=%v, 300 runs: %s = %s, want the maximum %d", v2, file, got, want)
		}
	}
}

// TestBornInGroup: an init started through startIn is born in its run's
// group (v1: the forking thread moves itself in and back out; v2: the
// clone names the group), and no thread of this process stays in it.
func TestBornInGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make cgroups")
	}
	check := func(t *testing.T, g *cgroup, want string) {
		b := &Backend{}
		cmd := exec.Command("sleep", "30")
		fd, err := g.cloneInto()
		if err != nil {
			t.Fatal(err)
		}
		if fd >= 0 {
			defer unix.Close(fd)
			cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
		}
		before, _ := os.ReadFile("/proc/self/cgroup")
		release, err := b.startIn(-1, g, cmd.Start)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait(); release() }()
		got, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", cmd.Process.Pid))
		if !strings.Contains(string(got), want) {
			t.Errorf("child's cgroups:\n%s\nwant a line with %q", got, want)
		}
		// Every thread of this process is where the process was (the
		// forking thread too: it moved back out, and waits for release).
		tasks, _ := os.ReadDir("/proc/self/task")
		for _, tk := range tasks {
			cg, _ := os.ReadFile("/proc/self/task/" + tk.Name() + "/cgroup")
			if string(cg) != string(before) {
				t.Errorf("thread %s stayed elsewhere:\n%s\nwant\n%s", tk.Name(), cg, before)
			}
		}
	}
	t.Run("v1", func(t *testing.T) {
		if cgroupMode() != "v1" {
			t.Skip("no v1 hierarchy here")
		}
		m, err := newCgroupManager("")
		if err != nil {
			t.Fatal(err)
		}
		g, err := m.create(cgroupLimits{Memory: 64 << 20, Pids: 16, CPUs: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer g.remove()
		if !g.bornInside() {
			t.Fatal("as root a v1 group must take its init at birth")
		}
		check(t, g, ":memory:/"+cgroupDirName+"/"+filepath.Base(g.dirs["memory"]))
	})
	t.Run("v2", func(t *testing.T) {
		// A v1 host often mounts an empty v2 hierarchy beside: enough to
		// check CLONE_INTO_CGROUP, which needs no controller.
		dir := filepath.Join(cgroupRoot, "unified")
		var st unix.Statfs_t
		if cgroupMode() == "v2" {
			dir = cgroupRoot
		} else if unix.Statfs(dir, &st) != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
			t.Skip("no v2 hierarchy here")
		}
		d := filepath.Join(dir, fmt.Sprintf("sandrun-jail-test-%d", os.Getpid()))
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		defer removeGroup(d)
		g := &cgroup{v2: true, dirs: map[string]string{"": d}}
		check(t, g, "0::/"+filepath.Base(d))
	})
}

// TestReweighIdle: a prestarted init's group waiting for a run does not
// count; once it holds a run it does.
func TestReweighIdle(t *testing.T) {
	base := t.TempDir()
	os.WriteFile(filepath.Join(base, "cpu.shares"), []byte("1"), 0o644)
	m := &cgroupManager{bases: map[string]string{"cpu": base}}
	var gs []*cgroup
	for i := 0; i < 3; i++ {
		d := filepath.Join(base, fmt.Sprintf("%d-%02x", os.Getpid(), i))
		os.Mkdir(d, 0o755)
		gs = append(gs, &cgroup{dirs: map[string]string{"cpu": d}, m: m})
	}
	gs[0].setIdle(true)
	gs[1].setIdle(true)
	if got := readFile(t, filepath.Join(base, "cpu.shares")); got != "1024" {
		t.Fatalf("one run, two idle: %s", got)
	}
	gs[0].setIdle(false)
	if got := readFile(t, filepath.Join(base, "cpu.shares")); got != "2048" {
		t.Fatalf("two runs, one idle: %s", got)
	}
}
