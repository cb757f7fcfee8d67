//go:build linux

package jail_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/sandrun/sandrun"
)

// TestConcurrentUIDs: runs at the same time get distinct host uids and
// their own output.
func TestConcurrentUIDs(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	b := backend(t)
	const n = 12
	var wg sync.WaitGroup
	outs := make([]*sandrun.Result, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			outs[i] = run(t, b, "python", fmt.Sprintf("import time\ntime.sleep(0.5)\nprint(%d, open('/proc/self/uid_map').read().split()[1])", i))
		}(i)
	}
	wg.Wait()
	seen := map[string]int{}
	for i, r := range outs {
		var got int
		var host string
		if _, err := fmt.Sscan(r.Stdout, &got, &host); err != nil || got != i || r.Status != sandrun.StatusOK {
			t.Fatalf("run %d: %s %q %q", i, r.Status, r.Stdout, r.Stderr)
		}
		if j, dup := seen[host]; dup {
			t.Errorf("runs %d and %d shared host uid %s", j, i, host)
		}
		seen[host] = i
	}
	checkNoLeftovers(t)
}
