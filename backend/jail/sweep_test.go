//go:build linux

package jail_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/lang"
)

// TestSweep: a cgroup left by a supervisor that died is removed when the
// next backend starts; a live supervisor's and foreign names are not.
func TestSweep(t *testing.T) {
	backend(t) // skips where the jail cannot run
	base := "/sys/fs/cgroup/pids/sandrun-jail"
	if _, err := os.Stat(base); err != nil {
		base = "/sys/fs/cgroup/sandrun-jail"
	}
	if _, err := os.Stat(base); err != nil {
		skip(t, "no jail cgroup base here: %v", err)
	}
	// A pid above pid_max is never alive: the pid of a process that just
	// exited may be reused by then (pid_max is 32768 on many hosts and
	// other suites spawn processes all the time), and the sweep would
	// rightly keep the group.
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Fatal(err)
	}
	pidMax, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	suffix := hex.EncodeToString(r[:])
	stale := filepath.Join(base, fmt.Sprintf("%d-%s", pidMax+1, suffix))
	live := filepath.Join(base, fmt.Sprintf("%d-%s", os.Getpid(), suffix))
	foreign := filepath.Join(base, "not-ours-"+suffix)
	for _, d := range []string{stale, live, foreign} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		os.Remove(live)
		os.Remove(foreign)
		os.Remove(stale)
	})
	j, err := jail.New(jail.Options{Languages: lang.NewRegistry(lang.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale cgroup %s survived the sweep", stale)
	}
	for _, d := range []string{live, foreign} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("sweep removed %s, which is not a dead supervisor's", d)
		}
	}
}
