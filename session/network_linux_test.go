//go:build linux

package session_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/audit"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/backend/process"
	"github.com/sandrun/sandrun/internal/nettest"
	"github.com/sandrun/sandrun/session"
	"github.com/sandrun/sandrun/session/sessiontest"
)

// netManager is a manager whose jail launcher's operator permits the
// test hosts, beside the process tier (which cannot hold a proxy), with
// every step recorded in a real audit log.
func netManager(t *testing.T, n *nettest.Net) (*session.Manager, *audit.Log) {
	t.Helper()
	j := sessiontest.NetJail(t, n, "allow:*.test:80-443")
	db := filepath.Join(t.TempDir(), "audit.db")
	log, err := audit.New(audit.Options{Version: "test", WriteTimeout: 30 * time.Second, Open: func(ctx context.Context) (audit.Store, error) {
		return audit.OpenSQLite(ctx, audit.SQLiteOptions{Path: db})
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = log.Close() })
	m, err := session.New(session.Options{
		Sandbox:   sessiontest.Sandbox(t, sandrun.Options{Recorder: log}),
		Launchers: map[string]sandrun.Launcher{jail.Name: j, process.Name: sessiontest.Launcher(t, process.Name)},
		// The process tier first: auto must still pick the one launcher
		// that can hold the proxy.
		Order:        []string{process.Name, jail.Name},
		Grace:        time.Second,
		ReadyTimeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return m, log
}

// TestSessionNetwork (issue 16): a session created with an allowlist
// keeps it for its whole life: every step reaches host A through the
// session's proxy and nothing else (host B, a raw connection, DNS, UDP),
// each step's usage.network is that step's own traffic, the audit log has
// it per step, and a step cannot change the policy.
func TestSessionNetwork(t *testing.T) {
	n := nettest.New(t, "hosta.test", "hostb.test")
	m, log := netManager(t, n)
	ctx := context.Background()
	pol, err := sandrun.ParseNetwork("allow:hosta.test:443,hosta.test:80")
	if err != nil {
		t.Fatal(err)
	}
	in, err := m.Create(ctx, session.Spec{Language: "python", Network: pol,
		Files: []sandrun.InputFile{{Name: "ca.pem", Content: string(n.CA)}}})
	if err != nil {
		t.Fatal(err)
	}
	if in.Backend != jail.Name || in.Network.String() != pol.String() {
		t.Fatalf("created %+v: want the jail (auto) and the policy", in)
	}
	step := func(code string) *sandrun.Result {
		t.Helper()
		res, err := m.Run(ctx, in.ID, session.RunRequest{Code: code})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != sandrun.StatusOK {
			t.Fatalf("step %q: %s %s\nstdout %s\nstderr %s", code, res.Status, res.Error, res.Stdout, res.Stderr)
		}
		return res
	}
	// Step 1: host A over HTTPS, twice.
	r1 := step(`import os, socket, ssl, urllib.request
ctx = ssl.create_default_context(cafile="ca.pem")
def get(u):
    try:
        return urllib.request.urlopen(u, context=ctx, timeout=30).read().decode().strip()
    except Exception as e:
        return "refused: %s" % e
print(get("https://hosta.test/hello"), get("https://hosta.test/hello"), os.environ["HTTPS_PROXY"])`)
	if r1.Stdout != "hello from hosta.test hello from hosta.test http://127.0.0.1:3128\n" {
		t.Fatalf("step 1: %q", r1.Stdout)
	}
	u1 := r1.Usage.Network
	if u1 == nil || u1.Connections != 2 || u1.Refused != 0 || u1.BytesDown == 0 || len(u1.Destinations) != 1 ||
		u1.Destinations[0].Host != "hosta.test" || u1.Destinations[0].Attempts != 2 {
		t.Fatalf("step 1 usage.network %+v", u1)
	}
	// Step 2: the session's state is kept; host B and a redirect to it
	// are refused, host A over HTTP works. Its usage is its own.
	r2 := step(`print(get("https://hostb.test/hello")[:8], get("http://hosta.test/redirect?to=http://hostb.test/hello")[:8], get("http://hosta.test/hello"))`)
	if r2.Stdout != "refused: refused: hello from hosta.test\n" {
		t.Fatalf("step 2: %q", r2.Stdout)
	}
	u2 := r2.Usage.Network
	if u2 == nil || u2.Connections != 2 || u2.Refused != 2 || u2.BytesDown == 0 {
		t.Fatalf("step 2 usage.network %+v", u2)
	}
	for _, d := range u2.Destinations {
		if d.Host == "hosta.test" && d.Port == 443 {
			t.Fatalf("step 2's usage repeats step 1's destination: %+v", u2.Destinations)
		}
	}
	// Step 3: the ways around the proxy are shut for the whole session,
	// as for a one-shot run (seccomp, Landlock, an empty namespace).
	a := n.Host("hosta.test").Addr.String()
	r3 := step(`def try_(f):
    try:
        f()
        return "open"
    except Exception as e:
        return type(e).__name__
def raw():
    socket.create_connection(("` + a + `", 80), timeout=5).close()
def dns():
    socket.getaddrinfo("hosta.test", 80)
def udp():
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("` + a + `", 53))
def lo():
    socket.create_connection(("127.0.0.1", 22), timeout=5).close()
print(try_(raw), try_(dns), try_(udp), try_(lo))`)
	if r3.Stdout != "PermissionError gaierror OSError PermissionError\n" {
		t.Fatalf("step 3 (bypasses): %q", r3.Stdout)
	}
	if u := r3.Usage.Network; u == nil || u.Connections != 0 || u.Refused != 0 || len(u.Destinations) != 0 {
		t.Fatalf("step 3 went through the proxy: %+v", u)
	}
	// A step may not set a network (widen, narrow or drop it).
	for _, p := range []string{"allow:hostb.test:443", "allow:hosta.test:443"} {
		q, _ := sandrun.ParseNetwork(p)
		res, err := m.Run(ctx, in.ID, session.RunRequest{Code: "print(1)", Network: q})
		if !errors.Is(err, sandrun.ErrBadRequest) || res.Status != sandrun.StatusRejected || !strings.Contains(err.Error(), "network") {
			t.Fatalf("a step with network %s: %v %+v", p, err, res)
		}
	}
	if got := step("print(get('https://hosta.test/hello'))"); got.Stdout != "hello from hosta.test\n" {
		t.Fatalf("after the refused steps: %q", got.Stdout)
	}
	// The audit log has each step with its own network record.
	entries, err := log.List(ctx, audit.Filter{Session: in.ID, Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*audit.Entry{}
	for _, e := range entries {
		byID[e.ID] = e
	}
	for i, r := range []*sandrun.Result{r1, r2} {
		e := byID[r.ID]
		if e == nil || e.Usage.Network == nil || e.Usage.Network.Connections != 2 || e.Usage.Network.Refused != r.Usage.Network.Refused {
			t.Fatalf("audit entry of step %d: %+v", i+1, e)
		}
	}
}

// TestSessionNetworkCap: the caps hold for the whole session: traffic
// over several steps adds up, and the step that crosses bytes_down ends
// with network_limit and a dead session.
func TestSessionNetworkCap(t *testing.T) {
	n := nettest.New(t, "hosta.test")
	m, _ := netManager(t, n)
	ctx := context.Background()
	pol, _ := sandrun.ParseNetwork("allow:hosta.test:80")
	pol.Limits.BytesDown = 256 << 10
	in, err := m.Create(ctx, session.Spec{Language: "python", Backend: jail.Name, Network: pol})
	if err != nil {
		t.Fatal(err)
	}
	fetch := "import urllib.request\nprint(len(urllib.request.urlopen('http://hosta.test/bytes/102400', timeout=30).read()))"
	for i := range 2 {
		res, err := m.Run(ctx, in.ID, session.RunRequest{Code: fetch})
		if err != nil || res.Status != sandrun.StatusOK || res.Stdout != "102400\n" {
			t.Fatalf("step %d: %v %+v", i+1, err, res)
		}
	}
	// 200 KiB so far: the third 100 KiB crosses the session's 256 KiB.
	res, err := m.Run(ctx, in.ID, session.RunRequest{Code: fetch})
	if err != nil || res.Status != sandrun.StatusNetworkLimit || !strings.Contains(res.Error, "bytes_down 256KiB") {
		t.Fatalf("third step: %v %s %q stdout %q", err, res.Status, res.Error, res.Stdout)
	}
	if u := res.Usage.Network; u == nil || u.LimitHit != "bytes_down" || u.BytesDown > 256<<10-2*102400 {
		t.Fatalf("third step usage.network %+v", u)
	}
	if info, _ := m.Get(in.ID); info.State != session.StateDead || info.Status != sandrun.StatusNetworkLimit {
		t.Fatalf("session after the cap: %+v", info)
	}
}

// TestSessionNetworkRefused: a session's network is checked when it is
// created: a tier that cannot hold the proxy, a policy the operator does
// not permit and a malformed one are refused naming the field, and
// nothing is left running.
func TestSessionNetworkRefused(t *testing.T) {
	n := nettest.New(t, "hosta.test")
	m, _ := netManager(t, n)
	ctx := context.Background()
	pol, _ := sandrun.ParseNetwork("allow:hosta.test:443")
	for _, c := range []struct {
		sp   session.Spec
		want string
	}{
		{session.Spec{Language: "python", Backend: process.Name, Network: pol}, "the process tier cannot enforce"},
		{session.Spec{Language: "python", Network: sandrun.NetworkPolicy{Allow: []sandrun.NetworkRule{{Host: "evil.org", Ports: pol.Allow[0].Ports}}}}, "not permitted by the operator"},
		{session.Spec{Language: "python", Network: sandrun.NetworkPolicy{Allow: []sandrun.NetworkRule{{Host: "hosta.test"}}}}, "network.allow[0].ports"},
	} {
		_, err := m.Create(ctx, c.sp)
		if !errors.Is(err, sandrun.ErrBadRequest) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("create %+v: %v, want a bad request naming %q", c.sp.Network, err, c.want)
		}
	}
	if ls := m.List(); len(ls) != 0 {
		t.Fatalf("refused creates left sessions: %+v", ls)
	}
	// A session without network on the same manager has none.
	in, err := m.Create(ctx, session.Spec{Language: "python", Backend: jail.Name})
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Run(ctx, in.ID, session.RunRequest{Code: `import os, socket
try:
    socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    print("inet socket", os.environ.get("HTTPS_PROXY"))
except OSError as e:
    print("no inet", os.environ.get("HTTPS_PROXY"))`})
	if err != nil || res.Stdout != "no inet None\n" || res.Usage.Network != nil {
		t.Fatalf("session without network: %v %+v", err, res)
	}
}
