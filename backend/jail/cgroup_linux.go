//go:build linux

package jail

import (
	"fmt"
	"log/slog"

	"github.com/sandrun/sandrun/internal/cgroup"
)

// cgroupDirName is the parent directory of every jail cgroup; per-run
// groups are named <supervisor pid>-<random> (internal/cgroup) so the
// startup sweep can tell a dead supervisor's leftovers from live ones.
const cgroupDirName = "sandrun-jail"

// newCgroupManager makes the jail's cgroup manager: memory, pids and the
// CPU controller (each run's bandwidth quota; the parent weighs one
// plain process per run, internal/cgroup's reweigh), on v1 or v2. parent
// overrides the v2 base (a delegated subtree for rootless use).
func newCgroupManager(parent string, log *slog.Logger) (*cgroup.Manager, error) {
	m, err := cgroup.New(cgroupDirName, parent, true)
	if err != nil {
		return nil, fmt.Errorf("%w (or downgrade the cgroup layer)", err)
	}
	m.SetLogger(log)
	return m, nil
}
