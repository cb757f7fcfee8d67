//go:build linux

package jail_test

import (
	"os"
	"sort"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
)

func TestZZRpyGuestTiming(t *testing.T) {
	if os.Getenv("RPY_TIMING") == "" {
		t.Skip()
	}
	var d []time.Duration
	for i := 0; i < 40; i++ {
		t0 := time.Now()
		res, _ := runGuest(t, "print(1)", sandrun.Limits{})
		d = append(d, time.Since(t0))
		if res.Stdout != "1\n" {
			t.Fatal(res.Stdout, res.Stderr)
		}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	t.Logf("guest p50 %v p10 %v p90 %v", d[20], d[4], d[36])
}
