//go:build linux

package nettest

import "testing"

// TestNeed: test hosts skip only for want of root; as root a missing ip
// fails in strict mode and skips otherwise.
func TestNeed(t *testing.T) {
	for _, c := range []struct {
		euid       int
		ip, strict bool
		skip, fail bool
	}{
		{0, true, true, false, false},
		{0, true, false, false, false},
		{1000, true, true, true, false},
		{1000, false, true, true, false},
		{0, false, false, true, false},
		{0, false, true, true, true},
	} {
		why, fail := need(c.euid, c.ip, c.strict)
		if (why != "") != c.skip || fail != c.fail {
			t.Errorf("need(%d, ip %v, strict %v) = %q, fail %v; want skip %v fail %v", c.euid, c.ip, c.strict, why, fail, c.skip, c.fail)
		}
	}
}
