package proxybench_test

import (
	"strings"
	"testing"

	"github.com/sandrun/sandrun/internal/netproxy/proxybench"
)

// TestRun: the four cases run (the proxied ones through the proxy, which
// would refuse anything else) and the report names each.
func TestRun(t *testing.T) {
	s, err := proxybench.Run(3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != len(proxybench.Cases) {
		t.Fatalf("%d series", len(s))
	}
	for i, x := range s {
		if x.Name != proxybench.Cases[i] || len(x.Samples) != 3 || x.Median() <= 0 {
			t.Errorf("series %d: %s %v", i, x.Name, x.Samples)
		}
	}
	var b strings.Builder
	proxybench.Report(&b, s)
	for _, c := range proxybench.Cases {
		if !strings.Contains(b.String(), c) {
			t.Errorf("report lacks %q:\n%s", c, b.String())
		}
	}
}
