package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/sandrun/sandrun/audit"
)

// The leases that tell a one-shot run whether to sweep the container
// tiers: the first command in a state directory cannot rely on them; a
// live process's lease is not stale, a dead one's is (a pid reused by
// another process included); release removes this process's own.
func TestLeases(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("start times need /proc: elsewhere every one-shot run sweeps")
	}
	dir := filepath.Join(t.TempDir(), "leases")
	release, stale, known := takeLease(dir)
	if known || len(stale) != 0 {
		t.Fatalf("first use of the directory: known %v, stale %v; want unknown (crashes before it are not recorded)", known, stale)
	}
	self := filepath.Join(dir, audit.WriterID())
	if _, err := os.Stat(self); err != nil {
		t.Fatalf("no lease for this process: %v", err)
	}
	release2, stale, known := takeLease(dir)
	if !known || len(stale) != 0 {
		t.Fatalf("with only a live lease: known %v, stale %v", known, stale)
	}
	release2()
	// A process that is gone, and this pid with another start time (the
	// pid reused): both stale.
	dead := filepath.Join(dir, fmt.Sprintf("%d:%s", deadPID(t), "12345"))
	reused := filepath.Join(dir, fmt.Sprintf("%d:%s", os.Getpid(), "1"))
	for _, p := range []string{dead, reused} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	release3, stale, known := takeLease(dir)
	defer release3()
	slices.Sort(stale)
	want := []string{dead, reused}
	slices.Sort(want)
	if !known || !slices.Equal(stale, want) {
		t.Fatalf("stale %v (known %v), want %v", stale, known, want)
	}
	release()
	if _, err := os.Stat(self); !os.IsNotExist(err) {
		t.Fatalf("the lease is still there after release: %v", err)
	}
	// A directory that cannot be made: unknown, so the caller sweeps.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, known := takeLease(filepath.Join(file, "leases")); known {
		t.Fatal("an unusable lease directory was relied on")
	}
}

// deadPID is the pid of a process that has ended.
func deadPID(t *testing.T) int {
	t.Helper()
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	return p.Pid
}
