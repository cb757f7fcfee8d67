//go:build linux

package jail

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
