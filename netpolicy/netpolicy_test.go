package netpolicy_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/netpolicy"
)

func policy(t *testing.T, s string) sandrun.NetworkPolicy {
	t.Helper()
	p, err := sandrun.ParseNetwork(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func operator(t *testing.T, s string, private ...string) *netpolicy.Operator {
	o := &netpolicy.Operator{Allow: policy(t, s).Allow}
	for _, p := range private {
		o.Private = append(o.Private, netip.MustParsePrefix(p))
	}
	return o
}

func TestNarrow(t *testing.T) {
	op := operator(t, "allow:pypi.org:443,*.example.org:80-443,*.wide.test:*,10.9.0.0/16:8000-8100")
	ok := []string{
		"allow:pypi.org:443",
		"allow:a.example.org:443",
		"allow:*.example.org:443",
		"allow:*.b.example.org:80-90",
		"allow:x.wide.test:22",
		"allow:10.9.1.0/24:8080",
		"allow:10.9.1.7:8000-8100",
	}
	for _, s := range ok {
		if _, err := op.Narrow(policy(t, s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	refused := map[string]string{
		"allow:pypi.org:80":                   "network.allow[0]",
		"allow:evil.org:443":                  "network.allow[0]",
		"allow:example.org:443":               "network.allow[0]", // *.example.org does not cover example.org
		"allow:*:443":                         "network.allow[0]",
		"allow:pypi.org:443,a.example.org:22": "network.allow[1]",
		"allow:10.0.0.0/8:8080":               "network.allow[0]",
		"allow:10.9.1.1:22":                   "network.allow[0]",
	}
	for s, field := range refused {
		_, err := op.Narrow(policy(t, s))
		if err == nil || !errors.Is(err, sandrun.ErrBadRequest) || !strings.HasPrefix(err.Error(), field+":") || !strings.Contains(err.Error(), "not permitted by the operator") {
			t.Errorf("%s: err = %v, want a refusal naming %s", s, err, field)
		}
	}
	if e, err := op.Narrow(sandrun.NetworkPolicy{}); e != nil || err != nil {
		t.Errorf("none narrowed to %v, %v", e, err)
	}
	var off *netpolicy.Operator
	if _, err := off.Narrow(policy(t, "allow:pypi.org:443")); err == nil || !strings.Contains(err.Error(), "permits no network") {
		t.Errorf("no operator: %v", err)
	}
}

func TestLimits(t *testing.T) {
	op := operator(t, "allow:*:*")
	op.Max.BytesDown = 1 << 20
	e, err := op.Narrow(policy(t, "allow:a.org:443"))
	if err != nil {
		t.Fatal(err)
	}
	if e.Limits.BytesDown != 1<<20 || e.Limits.BytesUp != netpolicy.DefaultLimits().BytesUp || e.Limits.Connections == 0 {
		t.Fatalf("limits %+v: the default must be capped by the operator's maximum", e.Limits)
	}
	p := policy(t, "allow:a.org:443")
	p.Limits.BytesDown = 2 << 20
	if _, err := op.Narrow(p); err == nil || !strings.HasPrefix(err.Error(), "network.limits.bytes_down:") {
		t.Fatalf("over the maximum: %v", err)
	}
}

func TestMatch(t *testing.T) {
	op := operator(t, "allow:*:*,0.0.0.0/0:*,[::/0]:*")
	e, err := op.Narrow(policy(t, "allow:*.example.org:443,api.test:8080,192.0.2.0/24:80"))
	if err != nil {
		t.Fatal(err)
	}
	yes := [][2]any{{"a.example.org", 443}, {"A.B.Example.ORG.", 443}, {"api.test", 8080}}
	no := [][2]any{{"example.org", 443}, {"a.example.org", 80}, {"evilexample.org", 443}, {"api.test.evil", 8080}, {"", 443}}
	for _, c := range yes {
		if !e.AllowsName(c[0].(string), uint16(c[1].(int))) {
			t.Errorf("%v refused", c)
		}
	}
	for _, c := range no {
		if e.AllowsName(c[0].(string), uint16(c[1].(int))) {
			t.Errorf("%v allowed", c)
		}
	}
	if !e.AllowsAddr(netip.MustParseAddr("192.0.2.9"), 80) || !e.AllowsAddr(netip.MustParseAddr("::ffff:192.0.2.9"), 80) {
		t.Error("a CIDR rule does not match its address (or its v4-mapped form)")
	}
	if e.AllowsAddr(netip.MustParseAddr("192.0.3.9"), 80) || e.AllowsAddr(netip.MustParseAddr("192.0.2.9"), 81) {
		t.Error("a CIDR rule matches outside its range or ports")
	}
}

func TestDialable(t *testing.T) {
	op := operator(t, "allow:*:*", "10.206.0.0/16")
	e, _ := op.Narrow(policy(t, "allow:x.org:443"))
	for _, s := range []string{"93.184.216.34", "2606:2800:220:1::1", "10.206.3.4", "::ffff:10.206.3.4"} {
		if err := e.Dialable(netip.MustParseAddr(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, s := range []string{"127.0.0.1", "::1", "10.1.2.3", "169.254.169.254", "192.168.1.1", "172.17.0.1",
		"100.64.0.1", "0.0.0.0", "::", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::", "224.0.0.1", "255.255.255.255"} {
		if err := e.Dialable(netip.MustParseAddr(s)); err == nil {
			t.Errorf("%s is dialable", s)
		}
	}
}

func TestHosts(t *testing.T) {
	h := &netpolicy.Hosts{}
	h.Add("HostA.test", netip.MustParseAddr("10.206.1.2"), netip.MustParseAddr("fd00::2"))
	got, err := h.LookupNetIP(context.Background(), "ip4", "hosta.test.")
	if err != nil || len(got) != 1 || got[0].String() != "10.206.1.2" {
		t.Fatalf("ip4 lookup = %v, %v", got, err)
	}
	if _, err := h.LookupNetIP(context.Background(), "ip", "other.test"); err == nil {
		t.Fatal("an unknown name resolved without a fallback")
	}
}
