//go:build linux

package jail

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/uidslot"
	"github.com/sandrun/sandrun/lang"
)

// Options.SpawnAhead (a one-shot `sandrun run`): New spawns one init in the
// background and the first run takes it; Close ends it when no run did; a
// spawn ahead that fails leaves the run to spawn its own. Each case runs
// with a private range of one host uid, so that whether the init holds its
// uid slot is visible, and checks that nothing is left behind: no init
// process, no cgroup, no uid slot, no file descriptor.
func TestSpawnAhead(t *testing.T) {
	if !haveCInit {
		t.Skip("built without cgo: no jail init")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: uid slots (the spawn ahead itself works without)")
	}
	for _, tc := range []string{"used", "unused", "failed"} {
		t.Run(tc, func(t *testing.T) {
			dir := t.TempDir()
			base := uint32(1_600_000_000 + (os.Getpid()%100000)*8)
			slots, err := uidslot.New(filepath.Join(dir, "uids"), base, 1)
			if err != nil {
				t.Fatal(err)
			}
			fdsBefore := openFDs(t)
			var hold func()
			if tc == "failed" {
				// The only uid is taken: the spawn ahead cannot have it.
				var ok bool
				if hold, ok, err = slots.Hold(base); err != nil || !ok {
					t.Fatalf("holding the uid: %v %v", ok, err)
				}
			}
			b, err := New(Options{Languages: lang.NewRegistry(lang.Options{}), NetPool: -1, SpawnAhead: true,
				StateDir: dir, UIDBase: base, UIDCount: 1})
			if err != nil {
				t.Fatal(err)
			}
			closed := false
			defer func() {
				if !closed {
					b.Close()
				}
			}()
			if err := b.Check(context.Background(), "python"); err != nil {
				t.Skipf("jail unavailable here: %v", err)
			}
			if b.ahead == nil {
				t.Fatal("SpawnAhead set, no spawn ahead")
			}
			// The spawn ahead has answered (an init, or nil on failure)
			// once the channel holds it.
			deadline := time.Now().Add(30 * time.Second)
			for len(b.ahead) == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			inits := initChildren(t)
			switch {
			case tc == "failed" && len(inits) != 0:
				t.Fatalf("the spawn ahead had no uid, yet inits %v run", inits)
			case tc != "failed" && len(inits) != 1:
				t.Fatalf("inits after the spawn ahead: %v, want one", inits)
			}
			if tc != "failed" {
				if _, ok, _ := slots.Hold(base); ok {
					t.Fatal("the init spawned ahead does not hold its uid slot")
				}
			}
			var cgDirs []string
			for _, pid := range inits {
				cgDirs = append(cgDirs, cgroupDirs(t, pid)...)
			}
			if hold != nil {
				hold() // the run's own spawn gets the uid
			}
			if tc != "unused" {
				res, err := b.Run(context.Background(), &sandrun.Request{Language: "python", Code: "print(6*7)", Limits: sandrun.Limits{WallTime: sandrun.Duration(time.Minute)}.WithDefaults()})
				if err != nil || res.Status != sandrun.StatusOK || res.Stdout != "42\n" {
					t.Fatalf("run after a %s spawn ahead: %+v, %v", tc, res, err)
				}
				if tc == "used" && processExists(inits[0]) {
					t.Fatalf("the init spawned ahead (pid %d) is still there after the run: the run spawned another", inits[0])
				}
			}
			b.Close()
			closed = true
			if left := initChildren(t); len(left) != 0 {
				t.Fatalf("inits left after Close: %v", left)
			}
			for _, pid := range inits {
				if processExists(pid) {
					t.Fatalf("init %d not reaped after Close", pid)
				}
			}
			for _, d := range cgDirs {
				if _, err := os.Stat(d); err == nil {
					t.Errorf("cgroup %s left after Close", d)
				}
			}
			release, ok, err := slots.Hold(base)
			if err != nil || !ok {
				t.Fatalf("uid slot still held after Close: %v %v", ok, err)
			}
			release()
			// More, never fewer: a finalizer may close what an earlier
			// test left.
			if after := openFDs(t); after > fdsBefore {
				t.Errorf("open fds: %d before New, %d after Close", fdsBefore, after)
			}
		})
	}
}

// initChildren lists this process's children that are jail inits.
func initChildren(t *testing.T) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 2 || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		if cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); bytes.HasPrefix(cmd, []byte("sandrun-jail-init\x00")) {
			out = append(out, pid)
		}
	}
	return out
}

// cgroupDirs are the cgroup directories pid is in, below the jail's
// parent group (v1: one per controller).
func cgroupDirs(t *testing.T, pid int) []string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || !strings.Contains(parts[2], "sandrun") {
			continue
		}
		if parts[0] == "0" {
			out = append(out, filepath.Join("/sys/fs/cgroup", parts[2]))
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out = append(out, filepath.Join("/sys/fs/cgroup", strings.TrimPrefix(c, "name="), parts[2]))
		}
	}
	return out
}

func processExists(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
