package docker_test

import (
	"testing"
	"time"

	"github.com/sandrun/sandrun"
)

// Issue 12 item 6: docker timeouts overshot to 2.8-3.7 s for 1 s. The
// wall clock starts when the container has started; at the limit the
// container's processes are killed through the run's cgroup at once (the
// engine's own kill and exit event lag under load). The stated tolerance
// (docs/guide/docker.md) is the limit + 0.5 s on a quiet host; the bound
// here is generous for a loaded CI host.
func TestTimeoutTolerance(t *testing.T) {
	b := need(t, "bash")
	var worst int64
	for range 3 {
		res := run(t, b, &sandrun.Request{Language: "bash", Code: "sleep 60 & sleep 60", Limits: sandrun.Limits{WallTime: sandrun.Duration(time.Second)}})
		if res.Status != sandrun.StatusTimeout {
			t.Fatalf("status %s (%s)", res.Status, res.Error)
		}
		worst = max(worst, res.Usage.WallMs)
	}
	t.Logf("1 s wall limit: worst wall %d ms of 3 runs", worst)
	if worst > 4000 {
		t.Fatalf("a 1 s wall limit took %d ms", worst)
	}
}
