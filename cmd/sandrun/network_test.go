//go:build linux

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sandrun/sandrun/audit"
	"github.com/sandrun/sandrun/internal/nettest"
)

// TestRunNetworkCLI is docs/guide/network.md's example: `sandrun run
// --network allow:hosta.test:443` fetches from host A through the proxy
// and is refused host B; a bad --network is a usage error.
func TestRunNetworkCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds test hosts and runs the jail; skipped with -short")
	}
	n := nettest.New(t, "hosta.test", "hostb.test")
	auditEnv(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, n.CA, 0o644); err != nil {
		t.Fatal(err)
	}
	var private []string
	for _, p := range n.Private() {
		private = append(private, p.String())
	}
	code := `import ssl, urllib.request
ctx = ssl.create_default_context(cafile="ca.pem")
print(urllib.request.urlopen("https://hosta.test/hello", context=ctx).read().decode().strip())
try:
    urllib.request.urlopen("https://hostb.test/hello", context=ctx)
except Exception as e:
    print("refused:", e)`
	for _, backend := range []string{"jail", "docker"} {
		t.Run(backend, func(t *testing.T) {
			rc, out, errs := runCLI(t, "", "run", "--backend", backend, "--lang", "python",
				"--network", "allow:hosta.test:443", "--network-private", strings.Join(private, ","),
				"--network-hosts", n.HostsFile(t), "--file", "ca.pem="+ca, "-c", code)
			if strings.Contains(errs, "unavailable") && os.Getenv("SANDRUN_TEST_STRICT") != "1" {
				t.Skipf("%s unavailable: %s", backend, errs)
			}
			if rc != 0 || !strings.Contains(out, "hello from hosta.test") || !strings.Contains(out, "refused: <urlopen error Tunnel connection failed: 403") {
				t.Fatalf("exit %d\nstdout %s\nstderr %s", rc, out, errs)
			}
			// The audit log keeps the run's network record.
			_, list, _ := runCLI(t, "", "audit", "list", "--json", "--limit", "1")
			var runs []audit.Entry
			if err := json.Unmarshal([]byte(list), &runs); err != nil || len(runs) != 1 {
				t.Fatalf("audit list: %v %s", err, list)
			}
			rc, show, _ := runCLI(t, "", "audit", "show", runs[0].ID)
			if rc != 0 || !strings.Contains(show, "destination:  hosta.test:443 allowed") ||
				!strings.Contains(show, "destination:  hostb.test:443 refused: hostb.test port 443 is not in the allowlist") {
				t.Fatalf("audit show: %d\n%s", rc, show)
			}
		})
	}
	if rc, _, errs := runCLI(t, "", "run", "--lang", "python", "--network", "allow:hosta.test", "-c", "print(1)"); rc != 2 || !strings.Contains(errs, "--network") {
		t.Fatalf("a port-less entry: exit %d %s", rc, errs)
	}
}
