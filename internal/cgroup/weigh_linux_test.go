//go:build linux

package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestReweigh: the runs' parent gets one plain process's CPU weight per
// run group under it, never less than one, at most the file's maximum.
func TestReweigh(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		base := t.TempDir()
		m := &Manager{v2: v2, weigh: true, bases: map[string]string{"cpu": base, "": base}}
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

// TestReweighIdle: a group made ahead of its run (SetIdle) does not
// count; once it holds a run it does; removing it drops it.
func TestReweighIdle(t *testing.T) {
	base := t.TempDir()
	os.WriteFile(filepath.Join(base, "cpu.shares"), []byte("1"), 0o644)
	m := &Manager{weigh: true, bases: map[string]string{"cpu": base}}
	var gs []*Group
	for i := 0; i < 3; i++ {
		d := filepath.Join(base, fmt.Sprintf("%d-%02x", os.Getpid(), i))
		os.Mkdir(d, 0o755)
		gs = append(gs, &Group{dirs: map[string]string{"cpu": d}, m: m})
	}
	gs[0].SetIdle(true)
	gs[1].SetIdle(true)
	if got := readFile(t, filepath.Join(base, "cpu.shares")); got != "1024" {
		t.Fatalf("one run, two idle: %s", got)
	}
	gs[0].SetIdle(false)
	if got := readFile(t, filepath.Join(base, "cpu.shares")); got != "2048" {
		t.Fatalf("two runs, one idle: %s", got)
	}
	if err := gs[1].Remove(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(base, "cpu.shares")); got != "2048" || m.idle != 0 {
		t.Fatalf("two runs, the idle one removed: %s (idle %d)", got, m.idle)
	}
}

// TestNoWeighWithoutCPU: a manager without the CPU controller leaves the
// base's weight alone (a memory-only tier's base is not a CPU domain).
func TestNoWeighWithoutCPU(t *testing.T) {
	base := t.TempDir()
	os.WriteFile(filepath.Join(base, "cpu.weight"), []byte("100"), 0o644)
	os.Mkdir(filepath.Join(base, "100-0a"), 0o755)
	os.Mkdir(filepath.Join(base, "101-0b"), 0o755)
	m := &Manager{v2: true, bases: map[string]string{"": base}}
	m.reweigh()
	if got := readFile(t, filepath.Join(base, "cpu.weight")); got != "100" {
		t.Fatalf("cpu.weight = %s, want it untouched", got)
	}
}

// TestRealWeigh (root, a real hierarchy): groups made under the CPU
// controller weigh their base one process each, and removing them
// gives the weight back.
func TestRealWeigh(t *testing.T) {
	if os.Geteuid() != 0 || Mode() == "" {
		t.Skip("needs root and a cgroup hierarchy")
	}
	m := testManager(t, fmt.Sprintf("sandrun-cgtest-w%d", os.Getpid()))
	file, unit, base := "cpu.shares", v1Shares, m.bases["cpu"]
	if m.v2 {
		file, unit, base = "cpu.weight", v2Weight, m.bases[""]
	}
	var gs []*Group
	for i := 0; i < 3; i++ {
		g, err := m.Create(Limits{Memory: 32 << 20, Pids: 8})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Remove()
		gs = append(gs, g)
	}
	if got := readFile(t, filepath.Join(base, file)); got != strconv.Itoa(3*unit) {
		t.Errorf("three runs: %s = %s, want %d", file, got, 3*unit)
	}
	if err := gs[2].Remove(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(base, file)); got != strconv.Itoa(2*unit) {
		t.Errorf("two runs: %s = %s, want %d", file, got, 2*unit)
	}
}
