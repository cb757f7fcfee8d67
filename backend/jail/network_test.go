//go:build linux

package jail_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/internal/nettest"
	"github.com/sandrun/sandrun/lang"
	"github.com/sandrun/sandrun/netpolicy"
)

// netBackend is a jail whose operator permits the test hosts.
func netBackend(t *testing.T, n *nettest.Net, allow string) *jail.Backend {
	t.Helper()
	backend(t) // skips where there is no jail
	pol, err := sandrun.ParseNetwork(allow)
	if err != nil {
		t.Fatal(err)
	}
	b, err := jail.New(jail.Options{Languages: lang.NewRegistry(lang.Options{}), Network: &netpolicy.Operator{
		Allow: pol.Allow, Private: n.Private(),
		Resolver: n.Resolver(map[string]netip.Addr{"private.test": n.Gateway, "loop.test": netip.MustParseAddr("127.0.0.1")}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.EnforcesNetwork(); err != nil {
		skip(t, "the jail cannot enforce a network allowlist here: %v", err)
	}
	return b
}

// TestNetworkAllowlist: a run allowed to reach host A fetches from it
// through the proxy; the same run is refused host B, a redirect to B, a
// raw connection to A's address, DNS, UDP, another loopback port, a TCP
// bind, and names that resolve to a private or loopback address.
func TestNetworkAllowlist(t *testing.T) {
	n := nettest.New(t, "hosta.test", "hostb.test")
	b := netBackend(t, n, "allow:*.test:80-443")
	a := n.Host("hosta.test").Addr.String()
	pol, _ := sandrun.ParseNetwork(nettest.BypassPolicy)
	checks, want := nettest.BypassChecks(a)
	// The jail's Landlock also refuses every loopback port but the proxy's.
	checks = append(checks, nettest.Check{Name: "proxy_port", Kind: "tcp", Target: "127.0.0.1:3128"},
		nettest.Check{Name: "other_lo_port", Kind: "tcp", Target: "127.0.0.1:22"})
	want["proxy_port"], want["other_lo_port"] = "ok", "err PermissionError"
	res := run(t, b, "python", nettest.Probe, func(r *sandrun.Request) {
		r.Network = pol
		r.Files = []sandrun.InputFile{{Name: "ca.pem", Content: string(n.CA)}}
		r.Args = nettest.ProbeArgs(checks...)
	})
	if res.Status != sandrun.StatusOK {
		t.Fatalf("status %s: %s\nstdout %s\nstderr %s", res.Status, res.Error, res.Stdout, res.Stderr)
	}
	got, err := nettest.ProbeResult(res.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("probe: %v", got)
	for k, w := range want {
		if !strings.HasPrefix(got[k], w) {
			t.Errorf("%s: %q, want %q...", k, got[k], w)
		}
	}
	u := res.Usage.Network
	if u == nil || u.Connections < 3 || u.Refused < 4 || u.BytesDown == 0 {
		t.Fatalf("usage.network %+v", u)
	}
}

// TestNetworkByteCap: an upload past bytes_up ends the run with
// network_limit.
func TestNetworkByteCap(t *testing.T) {
	n := nettest.New(t, "hosta.test")
	b := netBackend(t, n, "allow:hosta.test:*")
	pol, _ := sandrun.ParseNetwork("allow:hosta.test:80")
	pol.Limits.BytesUp = 64 << 10
	res := run(t, b, "python", `import urllib.request
urllib.request.urlopen(urllib.request.Request("http://hosta.test/upload", data=b"x" * (1 << 20)), timeout=30)
print("sent")`, func(r *sandrun.Request) { r.Network = pol })
	if res.Status != sandrun.StatusNetworkLimit || !strings.Contains(res.Error, "bytes_up 64KiB") {
		t.Fatalf("status %s error %q stdout %q stderr %q", res.Status, res.Error, res.Stdout, res.Stderr)
	}
	if u := res.Usage.Network; u == nil || u.LimitHit != "bytes_up" || u.BytesUp > 64<<10 {
		t.Fatalf("usage.network %+v", u)
	}
}

// TestNetworkNeedsOperator: without the operator's permission a request
// with an allowlist is rejected before anything runs.
func TestNetworkNeedsOperator(t *testing.T) {
	b := backend(t)
	pol, _ := sandrun.ParseNetwork("allow:hosta.test:443")
	req := &sandrun.Request{Language: "python", Code: "print(1)", Network: pol}
	req.Limits = req.Limits.WithDefaults()
	if _, err := b.Run(context.Background(), req); err == nil || !strings.Contains(err.Error(), "network") {
		t.Fatalf("err = %v", err)
	}
}

// TestNetworkNeverWarm: with the warm path on and the python zygote
// ready, a run with an allowlist is not served by a zygote's child (it
// has no proxy in its namespace): it runs in a cold jail, whose proxy
// serves it, and the zygote's counters do not move.
func TestNetworkNeverWarm(t *testing.T) {
	backend(t)
	n := nettest.New(t, "hosta.test")
	op, err := n.Operator("allow:hosta.test:80")
	if err != nil {
		t.Fatal(err)
	}
	b, err := jail.New(jail.Options{Languages: lang.NewRegistry(lang.Options{}), Warm: 2, Network: op})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.EnforcesNetwork(); err != nil {
		skip(t, "the jail cannot enforce a network allowlist here: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := b.WarmReady(ctx, "python"); err != nil {
		t.Fatal(err)
	}
	before := b.WarmStats()
	pol, _ := sandrun.ParseNetwork("allow:hosta.test:80")
	res := run(t, b, "python", "import urllib.request\nprint(urllib.request.urlopen('http://hosta.test/hello', timeout=30).read().decode())",
		func(r *sandrun.Request) { r.Network = pol })
	if res.Status != sandrun.StatusOK || !strings.Contains(res.Stdout, "hello from hosta.test") || res.Usage.Network == nil {
		t.Fatalf("status %s %q stdout %q stderr %q", res.Status, res.Error, res.Stdout, res.Stderr)
	}
	if after := b.WarmStats(); after.Forked != before.Forked {
		t.Fatalf("a zygote's child served a run with an allowlist: %+v -> %+v", before, after)
	}
	// The same backend serves a run without network warm (the check above
	// can fail).
	res = run(t, b, "python", "print(1)")
	if after := b.WarmStats(); res.Status != sandrun.StatusOK || after.Forked != before.Forked+1 {
		t.Fatalf("plain run: %s, stats %+v -> %+v", res.Status, before, after)
	}
}
