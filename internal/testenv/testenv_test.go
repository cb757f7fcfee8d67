package testenv

import (
	"strings"
	"testing"
	"time"
)

func TestName(t *testing.T) {
	a, b := Name("sandrun-x"), Name("sandrun-x")
	if a == b || !strings.HasPrefix(a, "sandrun-x-") {
		t.Fatalf("names %q and %q", a, b)
	}
}

// Two busy goroutines beside the measurement on a host with few cores
// must show as a slowdown; the figure is logged, only its range asserted.
func TestSlowdown(t *testing.T) {
	f := Slowdown()
	if f < 1 || f > 50 {
		t.Fatalf("slowdown %v outside [1, 50]", f)
	}
	if d := Scale(t, time.Second); d < time.Second {
		t.Fatalf("scaled %v below the bound", d)
	}
	t.Logf("slowdown now: %.2fx (load %s)", f, loadavg())
}
