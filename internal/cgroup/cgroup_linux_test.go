//go:build linux

package cgroup

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeDir makes a directory with the files a cgroup would have, so the
// formats of both versions are checked without a kernel (this project's
// CI host is v1 only).
func fakeDir(t *testing.T, files map[string]string) string {
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

func TestV2Files(t *testing.T) {
	d := fakeDir(t, map[string]string{
		"memory.max": "max", "memory.swap.max": "max", "pids.max": "max", "cpu.max": "max 100000",
		"cpu.stat":      "usage_usec 1500000\nuser_usec 1000000\n",
		"memory.peak":   "12345678\n",
		"memory.events": "low 0\nmax 3\noom 1\noom_kill 1\n",
	})
	g := &Group{v2: true, dirs: map[string]string{"": d}}
	if err := g.Set(Limits{Memory: 64 << 20, Pids: 32, CPUs: 1.5}); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]string{"memory.max": "67108864", "memory.swap.max": "0", "pids.max": "32", "cpu.max": "150000 100000"} {
		if got := readFile(t, filepath.Join(d, f)); got != want {
			t.Errorf("%s = %q, want %q", f, got, want)
		}
	}
	if s := g.Stats(); s.CPU != 1500*time.Millisecond || s.PeakMem != 12345678 || s.OOMKills != 1 {
		t.Errorf("stats = %+v", s)
	}
	// No pids or CPU limit: those files are left alone.
	d2 := fakeDir(t, map[string]string{"memory.max": "max", "pids.max": "max", "cpu.max": "max 100000"})
	g2 := &Group{v2: true, dirs: map[string]string{"": d2}}
	if err := g2.Set(Limits{Memory: 8 << 20}); err != nil {
		t.Fatal(err)
	}
	if readFile(t, filepath.Join(d2, "pids.max")) != "max" || readFile(t, filepath.Join(d2, "cpu.max")) != "max 100000" {
		t.Error("unset limits were written")
	}
}

func TestV1Files(t *testing.T) {
	mem := fakeDir(t, map[string]string{
		"memory.limit_in_bytes": "", "memory.memsw.limit_in_bytes": "", "memory.swappiness": "60",
		"memory.max_usage_in_bytes": "999\n", "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
	})
	pids := fakeDir(t, map[string]string{"pids.max": "max"})
	cpu := fakeDir(t, map[string]string{"cpu.cfs_period_us": "", "cpu.cfs_quota_us": "-1"})
	acct := fakeDir(t, map[string]string{"cpuacct.usage": "2500000000\n"})
	g := &Group{dirs: map[string]string{"memory": mem, "pids": pids, "cpu": cpu, "cpuacct": acct}}
	if err := g.Set(Limits{Memory: 32 << 20, Pids: 8, CPUs: 1}); err != nil {
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
	if s := g.Stats(); s.CPU != 2500*time.Millisecond || s.PeakMem != 999 || s.OOMKills != 2 {
		t.Errorf("stats = %+v", s)
	}
}

func TestOwnerPID(t *testing.T) {
	for name, want := range map[string]int{"123-abcdef": 123, "123-": 0, "x-ab": 0, "12-xyz": 0, "0-ab": 0, "sandrun-1-ab": 0} {
		pid, ok := OwnerPID(name)
		if (want > 0) != ok || pid != want && ok {
			t.Errorf("OwnerPID(%q) = %d %v", name, pid, ok)
		}
	}
}

// testManager makes a manager (with the CPU controller) of a base of
// the test's own, removed at the end (after the test's groups: a
// cleanup runs after deferred calls).
func testManager(t *testing.T, dirName string) *Manager {
	t.Helper()
	m, err := New(dirName, "", true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, b := range m.Bases() {
			os.Remove(b)
		}
	})
	return m
}

func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// On the real hierarchy (root): a group holds a process and its kill and
// removal end it; the sweep kills and removes a dead supervisor's group
// and leaves a live one's (this process's) alone.
func TestRealGroupAndSweep(t *testing.T) {
	if os.Geteuid() != 0 || Mode() == "" {
		t.Skip("needs root and a cgroup hierarchy")
	}
	m := testManager(t, fmt.Sprintf("sandrun-cgtest-%d", os.Getpid()))
	live, err := m.Create(Limits{Memory: 64 << 20, Pids: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Remove()
	start := func(g *Group) *exec.Cmd {
		cmd := exec.Command("sleep", "300")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go cmd.Wait()
		if err := g.Add(cmd.Process.Pid); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	c1 := start(live)
	if live.Empty() {
		t.Fatal("the group is empty after Add")
	}
	// A group named for a dead supervisor, with a process in it.
	deadName := fmt.Sprintf("%d-%s", deadPID(t), "abcdef012345")
	dead := &Group{v2: m.v2, name: deadName, dirs: map[string]string{}}
	for c, b := range m.bases {
		d := filepath.Join(b, deadName)
		dead.dirs[c] = d
		_ = os.Mkdir(d, 0o755)
	}
	c2 := start(dead)
	n, err := m.Sweep()
	if err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	for _, d := range dead.dirs {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("the dead supervisor's group %s is left", d)
		}
	}
	if pidAliveNotZombie(c2.Process.Pid) {
		t.Error("the dead supervisor's process survived the sweep")
	}
	if !pidAliveNotZombie(c1.Process.Pid) || live.Empty() {
		t.Fatal("the sweep touched a live supervisor's group")
	}
	live.Kill()
	if err := live.Remove(); err != nil {
		t.Fatal(err)
	}
	if pidAliveNotZombie(c1.Process.Pid) {
		t.Error("Remove left the process running")
	}
}

func pidAliveNotZombie(pid int) bool {
	for range 100 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i > 0 && strings.HasPrefix(s[i+1:], " Z") {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
