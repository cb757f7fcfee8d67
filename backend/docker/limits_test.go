package docker_test

import (
	"slices"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/testenv"
)

// Issue 12 item 6: docker timeouts overshot to 2.8-3.7 s for 1 s. The
// wall clock starts when the container has started; at the limit the
// container's processes are killed through the run's cgroup at once (the
// engine's own kill and exit event lag under load). The stated tolerance
// (docs/guide/docker.md) is the limit + 0.5 s on a quiet host; the bound
// here is generous for a loaded CI host.
func TestTimeoutTolerance(t *testing.T) {
	b := need(t, "bash")
	var walls []int64
	for range 3 {
		res := run(t, b, &sandrun.Request{Language: "bash", Code: "sleep 60 & sleep 60", Limits: sandrun.Limits{WallTime: sandrun.Duration(time.Second)}})
		if res.Status != sandrun.StatusTimeout {
			t.Fatalf("status %s (%s)", res.Status, res.Error)
		}
		walls = append(walls, res.Usage.WallMs)
	}
	slices.Sort(walls)
	t.Logf("1 s wall limit: walls %v ms", walls)
	// The median, so that one run stalled by the host's load does not
	// decide; the overshoot issue 12 found (2.8-3.7 s for 1 s, every run)
	// is past the bound on a quiet host (2.5 s), which stretches with the
	// host's measured slowdown.
	if bound := time.Second + testenv.Scale(t, 1500*time.Millisecond); time.Duration(walls[1])*time.Millisecond > bound {
		t.Fatalf("a 1 s wall limit took %d ms (median of %v), over %v", walls[1], walls, bound)
	}
}
