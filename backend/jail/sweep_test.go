//go:build linux

package jail_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(base, fmt.Sprintf("%d-0123456789ab", dead.Process.Pid))
	live := filepath.Join(base, fmt.Sprintf("%d-ba9876543210", os.Getpid()))
	foreign := filepath.Join(base, "not-ours")
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
	b, err := jail.New(jail.Options{Languages: lang.NewRegistry(lang.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale cgroup %s survived the sweep", stale)
	}
	for _, d := range []string{live, foreign} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("sweep removed %s, which is not a dead supervisor's", d)
		}
	}
}
