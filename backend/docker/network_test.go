//go:build linux

package docker_test

import (
	"bufio"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/docker"
	"github.com/sandrun/sandrun/internal/nettest"
	"github.com/sandrun/sandrun/netpolicy"
)

// TestNetworkAllowlist: a run allowed to reach host A fetches from it
// (HTTPS and HTTP) through the proxy; the same run is refused host B, a
// raw connection to A's address, DNS, UDP, and a name that resolves to a
// private address (the test namespace's own, standing for the host's
// services); every attempt is in the result.
func TestNetworkAllowlist(t *testing.T) {
	need(t, "python")
	n := nettest.New(t, "hosta.test", "hostb.test")
	b := docker.New(docker.Options{Network: &netpolicy.Operator{
		Allow:    []sandrun.NetworkRule{{Host: "*.test", Ports: []sandrun.PortRange{{From: 80, To: 443}}}},
		Private:  n.Private(),
		Resolver: n.Resolver(map[string]netip.Addr{"private.test": n.Gateway, "loop.test": netip.MustParseAddr("127.0.0.1")}),
	}})
	t.Cleanup(func() { b.Close() })
	a := n.Host("hosta.test").Addr.String()
	pol, _ := sandrun.ParseNetwork(nettest.BypassPolicy)
	checks, want := nettest.BypassChecks(a)
	res := run(t, b, &sandrun.Request{
		Language: "python", Code: nettest.Probe, Network: pol,
		Files: []sandrun.InputFile{{Name: "ca.pem", Content: string(n.CA)}},
		Args:  nettest.ProbeArgs(checks...),
	})
	if res.Status != sandrun.StatusOK {
		t.Fatalf("status %s: %s\nstdout %s\nstderr %s", res.Status, res.Error, res.Stdout, res.Stderr)
	}
	got, err := nettest.ProbeResult(res.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("probe: %v", got)
	checkProbe(t, got, want)
	u := res.Usage.Network
	if u == nil || u.Connections < 3 || u.Refused < 4 || u.BytesDown == 0 {
		t.Fatalf("usage.network %+v", u)
	}
	reasons := map[string]string{}
	for _, d := range u.Destinations {
		if !d.Allowed {
			reasons[d.Host] = d.Reason
		}
	}
	for host, want := range map[string]string{"hostb.test": "not in the allowlist", "private.test": "private", "loop.test": "loopback"} {
		if !strings.Contains(reasons[host], want) {
			t.Errorf("refusal of %s: %q, want %q (destinations %+v)", host, reasons[host], want, u.Destinations)
		}
	}
}

// TestNetworkByteCap: a download past bytes_down ends the run with
// network_limit.
func TestNetworkByteCap(t *testing.T) {
	need(t, "python")
	n := nettest.New(t, "hosta.test")
	b := docker.New(docker.Options{Network: &netpolicy.Operator{
		Allow: []sandrun.NetworkRule{{Host: "hosta.test", Ports: []sandrun.PortRange{sandrun.AnyPort}}}, Private: n.Private(), Resolver: n.Resolver(nil),
	}})
	t.Cleanup(func() { b.Close() })
	pol, _ := sandrun.ParseNetwork("allow:hosta.test:443")
	pol.Limits.BytesDown = 256 << 10
	res := run(t, b, &sandrun.Request{
		Language: "python", Code: nettest.Probe, Network: pol,
		Files: []sandrun.InputFile{{Name: "ca.pem", Content: string(n.CA)}},
		Args:  nettest.ProbeArgs(nettest.Check{Name: "big", Kind: "fetch", Target: "https://hosta.test/bytes/4194304"}),
	})
	if res.Status != sandrun.StatusNetworkLimit || !strings.Contains(res.Error, "bytes_down 256KiB") {
		t.Fatalf("status %s error %q stdout %q", res.Status, res.Error, res.Stdout)
	}
	if u := res.Usage.Network; u == nil || u.LimitHit != "bytes_down" || u.BytesDown > 256<<10 {
		t.Fatalf("usage.network %+v", u)
	}
}

// TestNetworkRefusedByOperator: a request for more than the operator
// permits is rejected naming the rule; no operator means no network.
func TestNetworkRefusedByOperator(t *testing.T) {
	need(t, "python")
	b := docker.New(docker.Options{Network: &netpolicy.Operator{
		Allow: []sandrun.NetworkRule{{Host: "hosta.test", Ports: []sandrun.PortRange{{From: 443, To: 443}}}}}})
	t.Cleanup(func() { b.Close() })
	pol, _ := sandrun.ParseNetwork("allow:hosta.test:443,hostb.test:443")
	req := &sandrun.Request{Language: "python", Code: "print(1)", Network: pol}
	req.Limits = req.Limits.WithDefaults()
	if _, err := b.Run(t.Context(), req); err == nil || !strings.Contains(err.Error(), "network.allow[1]") {
		t.Fatalf("err = %v", err)
	}
}

func checkProbe(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if !strings.HasPrefix(got[k], w) {
			t.Errorf("%s: %q, want %q...", k, got[k], w)
		}
	}
}

// TestLaunchNetwork: a launched container (a session's interpreter) with
// an allowlist reaches host A through its proxy for its whole life and
// is refused host B; NetworkUsage grows as it goes and the exit carries
// the final record. A launch the operator does not permit starts nothing.
func TestLaunchNetwork(t *testing.T) {
	need(t, "python")
	n := nettest.New(t, "hosta.test", "hostb.test")
	op, err := n.Operator("allow:*.test:80")
	if err != nil {
		t.Fatal(err)
	}
	b := docker.New(docker.Options{Network: op})
	t.Cleanup(func() { b.Close() })
	pol, _ := sandrun.ParseNetwork("allow:hosta.test:80")
	if _, err := b.Launch(t.Context(), &sandrun.LaunchSpec{Language: "python", Args: []string{"-c", "1"},
		Limits: sandrun.DefaultLimits(), Network: sandrun.NetworkPolicy{Allow: []sandrun.NetworkRule{{Host: "evil.org", Ports: pol.Allow[0].Ports}}}}); err == nil ||
		!strings.Contains(err.Error(), "network.allow[0]") {
		t.Fatalf("a launch past the operator: %v", err)
	}
	l, err := b.Launch(t.Context(), &sandrun.LaunchSpec{Language: "python", Limits: sandrun.DefaultLimits(), Network: pol,
		Args: []string{"-u", "-c", `import sys, urllib.request
for line in sys.stdin:
    try:
        print(urllib.request.urlopen(line.strip(), timeout=30).read().decode().strip())
    except Exception as e:
        print("refused", type(e).__name__)`}})
	if err != nil {
		t.Fatal(err)
	}
	out := bufio.NewReader(l.Stdout())
	ask := func(url string) string {
		t.Helper()
		if _, err := l.Stdin().Write([]byte(url + "\n")); err != nil {
			t.Fatal(err)
		}
		got := make(chan string, 1)
		go func() { s, _ := out.ReadString('\n'); got <- s }()
		select {
		case s := <-got:
			return strings.TrimSpace(s)
		case <-time.After(90 * time.Second):
			l.Kill()
			t.Fatal("no answer from the launched container in 90 s")
		}
		return ""
	}
	if got := ask("http://hosta.test/hello"); got != "hello from hosta.test" {
		t.Fatalf("host A: %q", got)
	}
	first := l.(sandrun.UsageReporter).UsageSoFar().Network
	if first == nil || first.Connections != 1 {
		t.Fatalf("NetworkUsage after one fetch: %+v", first)
	}
	if got := ask("http://hostb.test/hello"); got != "refused HTTPError" {
		t.Fatalf("host B: %q", got)
	}
	if got := ask("http://hosta.test/hello"); got != "hello from hosta.test" {
		t.Fatalf("host A again: %q", got)
	}
	l.Stdin().(interface{ Close() error }).Close()
	ex, err := l.Wait()
	if err != nil || ex.Status != sandrun.StatusOK {
		t.Fatalf("exit %+v %v", ex, err)
	}
	if u := ex.Usage.Network; u == nil || u.Connections != 2 || u.Refused != 1 {
		t.Fatalf("final usage.network %+v", u)
	}
}
