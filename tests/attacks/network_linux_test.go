//go:build linux

package attacks

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/nettest"
	"github.com/sandrun/sandrun/netpolicy"
)

// netHosts are the test hosts of the network cases (internal/nettest: two
// network namespaces joined to the test's by veth pairs, each serving HTTP
// and HTTPS with a test CA), built once per harness when a case needs
// them, and the operator settings every tier that enforces an allowlist
// is built with.
type netHosts struct {
	n   *nettest.Net
	op  *netpolicy.Operator
	why string // why there are none
}

// corpusCeiling is what the tiers' operator permits the corpus: any name
// under .test and, for the cases that name addresses, the loopback range
// and every IPv6 address, on any port. The only non-public addresses it
// permits are the test hosts' own (nettest's Private), so a case's CIDR
// rule for 127.0.0.1 passes narrowing and the proxy's address check is
// what must refuse it.
const corpusCeiling = "allow:*.test:*,127.0.0.0/8:*,[::/0]:*"

// newNetHosts builds the test hosts when a case has a network. Without
// root it leaves them out (the network cases are then skipped, saying
// why); as root without iproute2 it fails under SANDRUN_TEST_STRICT=1.
func newNetHosts(t *testing.T, cases []*attackCase) *netHosts {
	t.Helper()
	need := false
	for _, c := range cases {
		need = need || !c.Network.IsNone()
	}
	if !need {
		return &netHosts{why: "no case has a network"}
	}
	why, fail := nettest.Usable()
	if fail {
		t.Fatal(why)
	}
	if why != "" {
		return &netHosts{why: why}
	}
	n := nettest.New(t, "hosta.test", "hostb.test")
	op, err := n.Operator(corpusCeiling)
	if err != nil {
		t.Fatal(err)
	}
	return &netHosts{n: n, op: op}
}

// apply gives a network case's request its policy, the test CA and
// netlib.py in /work, and the hosts' addresses in its environment.
func (h *harness) applyNetwork(c *attackCase, req *sandrun.Request) {
	if c.Network.IsNone() || h.net.n == nil {
		return
	}
	n := h.net.n
	req.Network = c.Network
	req.Env["SANDRUN_ATTACK_HOSTA"] = n.Host("hosta.test").Addr.String()
	req.Env["SANDRUN_ATTACK_HOSTB"] = n.Host("hostb.test").Addr.String()
	req.Env["SANDRUN_ATTACK_GATEWAY"] = n.Gateway.String()
	req.Files = append(req.Files, sandrun.InputFile{Name: "ca.pem", Content: string(n.CA)},
		sandrun.InputFile{Name: netLibFile, Content: string(h.netLib)})
}

// networkRefusal says why backend b cannot enforce an allowlist ("" when
// it can): such a tier must reject every network case.
func networkRefusal(b sandrun.Backend) string {
	ne, ok := b.(sandrun.NetworkEnforcer)
	if !ok {
		return "the tier has no network namespace of its own to hold the proxy"
	}
	if err := ne.EnforcesNetwork(); err != nil {
		return err.Error()
	}
	return ""
}

// networkCase handles a network case where it does not run as the others
// do, and reports whether it did: without test hosts it is skipped; on a
// tier that cannot enforce an allowlist the run must be rejected naming
// the network, with nothing run and the host untouched (reported as
// "rejected", a skip: the case's claim is not tested there).
func (h *harness) networkCase(t *testing.T, sb *sandrun.Sandbox, tr *tier, c *attackCase, o *outcome) bool {
	if c.Network.IsNone() {
		return false
	}
	if h.net.n == nil {
		o.Result = "skipped"
		t.Skip("no test hosts: " + h.net.why)
	}
	if tr.netRefusal == "" {
		return false
	}
	before := snapshot()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, _ := sb.Run(ctx, h.request(c, tr.backend, nil))
	var bad []string
	if res.Status != sandrun.StatusRejected || !strings.Contains(res.Error, "network") {
		bad = append(bad, fmt.Sprintf("the %s tier cannot enforce an allowlist (%s) but did not reject the run: status %s, error %q, stdout %q",
			tr.name, tr.netRefusal, res.Status, res.Error, tail(res.Stdout, 300)))
	}
	for _, x := range h.checkHost(before, tr) {
		bad = append(bad, "host: "+x)
	}
	o.Statuses, o.Notes = string(res.Status), []string{res.Error}
	if len(bad) > 0 {
		o.Result, o.Notes = "FAILED", bad
		for _, b := range bad {
			t.Error(b)
		}
		return true
	}
	o.Result = "rejected"
	t.Skipf("REJECTED on %s (it cannot enforce an allowlist, and refused the run): %s", tr.name, res.Error)
	return true
}

// readNetLib reads netlib.py.
func readNetLib(t *testing.T) []byte {
	b, err := os.ReadFile(casesDir + "/" + netLibFile)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestNetworkCasesDetectWeakOperator is the network cases' mutation test:
// against a jail whose operator permits the loopback and private ranges
// (the proxy's address check has nothing left to refuse), the cases about
// private names and the host's loopback services must FAIL. A case that
// passes there does not test the address check.
func TestNetworkCasesDetectWeakOperator(t *testing.T) {
	if testing.Short() {
		t.Skip("runs cases against a permissive operator; skipped under -short")
	}
	h := newHarness(t)
	if h.net.n == nil {
		t.Skip("no test hosts: " + h.net.why)
	}
	weak := *h.net.op
	weak.Private = append(append([]netip.Prefix(nil), weak.Private...), netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))
	tr := jailTier(0)
	open := tr.open
	tr.open = func(t *testing.T, base string) (sandrun.Backend, error) {
		tr.netOp = &weak // the harness set the corpus's operator
		return open(t, base)
	}
	sb := h.open(t, tr)
	for _, c := range h.cases {
		if c.Num != 61 && c.Num != 62 {
			continue
		}
		bad, seen := h.runCase(sb, tr, c)
		if len(bad) == 0 {
			t.Errorf("case %d (%s) passed with loopback and private ranges permitted (status %s): it does not test the address check", c.Num, c.Title, seen)
		} else {
			t.Logf("case %d fails with a permissive operator, as it must: %s", c.Num, bad[0])
		}
	}
}
