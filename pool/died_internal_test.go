package pool

import (
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/driver"
)

// TestDiedStatesRequestLimits: when the launcher's own limit ends a run
// (its wall time is the request's plus a grace period), the result names
// the request's limit, not the launch's ("of 12s" for a 10s limit).
func TestDiedStatesRequestLimits(t *testing.T) {
	lim := sandrun.Limits{WallTime: sandrun.Duration(10 * time.Second)}.WithDefaults()
	for _, c := range []struct {
		ex   sandrun.LaunchExit
		want string
	}{
		{sandrun.LaunchExit{Status: sandrun.StatusTimeout, Error: "the program ran longer than its wall-clock limit of 12s and was killed"}, "limit of 10s"},
		{sandrun.LaunchExit{Status: sandrun.StatusCPULimit, Error: "the program used more than its CPU-time limit of 7s and was killed"}, "limit of " + lim.CPUTime.String()},
		{sandrun.LaunchExit{Status: sandrun.StatusTimeout, Error: "the run was cancelled by the caller and the program was killed"}, "cancelled"},
	} {
		res := &sandrun.Result{}
		died(res, driver.Outcome{}, &c.ex, lim)
		if res.Status != c.ex.Status || !strings.Contains(res.Error, c.want) || strings.Contains(res.Error, "12s") {
			t.Errorf("%+v -> %s %q, want %s naming %q", c.ex, res.Status, res.Error, c.ex.Status, c.want)
		}
	}
}
