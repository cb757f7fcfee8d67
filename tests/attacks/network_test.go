package attacks

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
)

// The network-policy cases (issue 16) run with an allowlist through the
// supervisor's proxy, against the project's own test hosts
// (network_linux_test.go builds them). Their header keys:
//
//	network: allow:hosta.test:80,...      the request's policy (CLI form)
//	network-limits: bytes_down=256KiB ... the policy's caps
//	expect-network-limit: bytes_down      the cap that must end the run
//	expect-network-refused: 3             refusals the proxy must record
//
// A tier that cannot enforce an allowlist must reject such a run naming
// the network (it is then reported as "rejected", never as contained).

// netLibFile is the helper module written next to every network case.
const netLibFile = "netlib.py"

// setNetwork handles the network header keys.
func (c *attackCase) setNetwork(key, val string) error {
	e := &c.Expect
	switch key {
	case "network":
		lim := c.Network.Limits
		p, err := sandrun.ParseNetwork(val)
		if err != nil {
			return err
		}
		if p.IsNone() {
			return fmt.Errorf("a network case needs an allowlist, not %q", val)
		}
		c.Network, c.Network.Limits = p, lim
		e.Network = true
	case "network-limits":
		l := &c.Network.Limits
		err := eachKeyValue(val, func(k, v string) (err error) {
			switch k {
			case "bytes_up":
				l.BytesUp, err = sandrun.ParseBytes(v)
			case "bytes_down":
				l.BytesDown, err = sandrun.ParseBytes(v)
			case "connections":
				l.Connections, err = strconv.Atoi(v)
			default:
				return fmt.Errorf("unknown network limit %q", k)
			}
			if err != nil {
				return fmt.Errorf("network limit %s: %w", k, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		e.NetCaps = *l
	case "expect-network-limit":
		switch val {
		case "bytes_up", "bytes_down", "connections":
			e.NetLimit = val
		default:
			return fmt.Errorf("unknown cap %q (bytes_up, bytes_down, connections)", val)
		}
	case "expect-network-refused":
		n, err := strconv.Atoi(val)
		if err != nil || n < 1 {
			return fmt.Errorf("not a count: %q", val)
		}
		e.NetRefused = n
	}
	return nil
}

// eachKeyValue calls set for each space-separated key=value of val.
func eachKeyValue(val string, set func(k, v string) error) error {
	for _, kv := range strings.Fields(val) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("%q is not key=value", kv)
		}
		if err := set(k, v); err != nil {
			return err
		}
	}
	return nil
}

// checkNetworkHeader refuses network expectations without a network.
func (c *attackCase) checkNetworkHeader() error {
	e := c.Expect
	if !e.Network && (e.NetLimit != "" || e.NetRefused > 0 || e.NetCaps != (sandrun.NetworkLimits{})) {
		return fmt.Errorf("network expectations or limits without a network: header")
	}
	if e.NetLimit != "" && !statusIn(sandrun.StatusNetworkLimit, e.Statuses) {
		return fmt.Errorf("expect-network-limit needs expect-status network_limit")
	}
	return nil
}

// judgeNetwork checks the proxy's record of a network case: there is one
// (the run had its proxy), the cap that had to end it did and nothing
// passed it, and the refusals were recorded.
func judgeNetwork(e expect, res *sandrun.Result) []string {
	if !e.Network || res.Status == sandrun.StatusRejected {
		return nil
	}
	u := res.Usage.Network
	if u == nil {
		return []string{"no usage.network: the run had no proxy record"}
	}
	var bad []string
	if e.NetLimit != "" && u.LimitHit != e.NetLimit {
		bad = append(bad, fmt.Sprintf("usage.network.limit_hit %q, want %q", u.LimitHit, e.NetLimit))
	}
	for _, c := range []struct {
		name      string
		got, capv int64
	}{
		{"bytes_down", u.BytesDown, int64(e.NetCaps.BytesDown)},
		{"bytes_up", u.BytesUp, int64(e.NetCaps.BytesUp)},
		{"connections", int64(u.Connections), int64(e.NetCaps.Connections)},
	} {
		if c.capv > 0 && c.got > c.capv {
			bad = append(bad, fmt.Sprintf("usage.network.%s %d is past its cap %d", c.name, c.got, c.capv))
		}
	}
	if u.Refused < e.NetRefused {
		bad = append(bad, fmt.Sprintf("the proxy recorded %d refusals, want at least %d (destinations %+v)", u.Refused, e.NetRefused, u.Destinations))
	}
	return bad
}

// TestJudgeNetwork: the network expectations can fail: no proxy record,
// the wrong cap, traffic past a cap, too few refusals, and headers that
// would make a case meaningless.
func TestJudgeNetwork(t *testing.T) {
	e := expect{Statuses: []sandrun.Status{sandrun.StatusNetworkLimit}, Network: true, NetLimit: "bytes_down",
		NetCaps: sandrun.NetworkLimits{BytesDown: 1000}, NetRefused: 2}
	good := &sandrun.Result{Status: sandrun.StatusNetworkLimit, Usage: sandrun.Usage{Network: &sandrun.NetworkUsage{
		BytesDown: 1000, Refused: 2, LimitHit: "bytes_down"}}}
	if bad := judgeNetwork(e, good); len(bad) != 0 {
		t.Fatalf("good result judged bad: %v", bad)
	}
	for name, u := range map[string]*sandrun.NetworkUsage{
		"no record": nil,
		"other cap": {BytesDown: 10, Refused: 2, LimitHit: "connections"},
		"past cap":  {BytesDown: 1001, Refused: 2, LimitHit: "bytes_down"},
		"refusals":  {BytesDown: 10, Refused: 1, LimitHit: "bytes_down"},
	} {
		r := *good
		r.Usage.Network = u
		if bad := judgeNetwork(e, &r); len(bad) == 0 {
			t.Errorf("%s: broken result judged good", name)
		}
	}
	// A rejected run has no record to judge (a tier that cannot enforce).
	if bad := judgeNetwork(e, &sandrun.Result{Status: sandrun.StatusRejected}); len(bad) != 0 {
		t.Errorf("rejected: %v", bad)
	}
	for _, hdr := range []string{
		"# network-limits: bytes_down=1KiB\n",                              // limits without a network
		"# network: allow:a.test:80\n# expect-network-limit: bytes_down\n", // a cap without network_limit
		"# network: none\n",
		"# network: allow:a.test:80\n# network-limits: packets=3\n",
	} {
		src := "# case: 54\n# title: t\n# tries: t\n# means: m\n# expect-status: ok\n" + hdr
		if _, err := parseCase("54-x.py", src); err == nil {
			t.Errorf("header %q parsed", hdr)
		}
	}
	c, err := parseCase("54-x.py", "# case: 54\n# title: t\n# tries: t\n# means: m\n# expect-status: network_limit\n"+
		"# network-limits: connections=4\n# network: allow:a.test:80\n# expect-network-limit: connections\n")
	if err != nil || c.Network.String() != "allow:a.test:80" || c.Network.Limits.Connections != 4 || c.Expect.NetCaps.Connections != 4 {
		t.Fatalf("parse: %v %+v", err, c)
	}
}
