//go:build linux

package pool_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/internal/nettest"
	"github.com/sandrun/sandrun/pool"
	"github.com/sandrun/sandrun/session/sessiontest"
)

// TestNetworkRunsColdOnJail: as serve builds it (a python pool of jailed
// interpreters, the jail as fallback), a run with an allowlist reaches
// its test host: it ran in a cold jail with the proxy, not in a warm
// interpreter (which has none), and the warm one is still waiting.
func TestNetworkRunsColdOnJail(t *testing.T) {
	n := nettest.New(t, "hosta.test")
	j := sessiontest.NetJail(t, n, "allow:hosta.test:80")
	p, err := pool.New(pool.Config{Launcher: j, Tier: jail.Name, Sizes: map[string]int{"python": 1}, Fallback: j, ReadyTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	waitReady(t, p, "python", 1)
	pol, _ := sandrun.ParseNetwork("allow:hosta.test:80")
	res := runOK(t, p, &sandrun.Request{Language: "python", Network: pol,
		Code: "import urllib.request\nprint(urllib.request.urlopen('http://hosta.test/hello', timeout=30).read().decode())"})
	if res.Status != sandrun.StatusOK || !strings.Contains(res.Stdout, "hello from hosta.test") || res.Usage.Network == nil {
		t.Fatalf("status %s %q stdout %q stderr %q usage %+v", res.Status, res.Error, res.Stdout, res.Stderr, res.Usage.Network)
	}
	if st := p.Stats(); st.Hits != 0 || st.Misses != 1 || st.Ready["python"] != 1 {
		t.Fatalf("stats %+v: the run must have gone cold, the warm interpreter unused", st)
	}
}
