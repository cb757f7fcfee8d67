package nettest

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Probe is a python program the network tests run inside a sandbox. Its
// argument is a JSON list of checks [name, kind, target]: kind "fetch"
// (urllib through the proxy variables; https trusts /work/ca.pem), "tcp"
// (a raw connect to host:port, no proxy), "dns" (getaddrinfo), "udp" (a
// datagram to host:port). It prints one JSON object: name -> "ok ..." or
// "err ...".
const Probe = `import json, socket, ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile="/work/ca.pem")
out = {}
for name, kind, target in json.loads(sys.argv[1]):
    try:
        if kind == "fetch":
            with urllib.request.urlopen(target, context=ctx, timeout=30) as r:
                out[name] = "ok " + r.read().decode(errors="replace")[:200]
        elif kind == "tcp":
            host, port = target.rsplit(":", 1)
            s = socket.create_connection((host.strip("[]"), int(port)), timeout=5)
            s.close()
            out[name] = "ok connected"
        elif kind == "dns":
            out[name] = "ok " + str(socket.getaddrinfo(target, 80)[0][4])
        elif kind == "udp":
            host, port = target.rsplit(":", 1)
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.sendto(b"x", (host, int(port)))
            out[name] = "ok sent"
    except BaseException as e:
        out[name] = "err %s: %s" % (type(e).__name__, str(e)[:300])
print(json.dumps(out))
`

// Check is one probe check.
type Check struct{ Name, Kind, Target string }

// ProbeArgs encodes the checks as the probe's argument.
func ProbeArgs(checks ...Check) []string {
	var l [][3]string
	for _, c := range checks {
		l = append(l, [3]string{c.Name, c.Kind, c.Target})
	}
	b, _ := json.Marshal(l)
	return []string{string(b)}
}

// ProbeResult parses the probe's output.
func ProbeResult(stdout string) (map[string]string, error) {
	out := map[string]string{}
	i := strings.LastIndex(strings.TrimSpace(stdout), "\n")
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout)[i+1:]), &out); err != nil {
		return nil, fmt.Errorf("probe output %q: %w", stdout, err)
	}
	return out, nil
}

// BypassChecks are the checks both tiers' tests run with the allowlist
// "hosta.test:443,hosta.test:80,private.test:80,loop.test:80": host A
// over HTTPS and HTTP, then the ways around the allowlist. It returns the
// checks and the prefix each result must have.
func BypassChecks(hostA string) ([]Check, map[string]string) {
	checks := []Check{
		{"a_https", "fetch", "https://hosta.test/hello"},
		{"a_http", "fetch", "http://hosta.test/hello"},
		{"b_https", "fetch", "https://hostb.test/hello"},
		{"a_redirect_b", "fetch", "http://hosta.test/redirect?to=http://hostb.test/hello"},
		{"private", "fetch", "http://private.test/hello"},
		{"loopback", "fetch", "http://loop.test/hello"},
		{"raw_a", "tcp", hostA + ":80"},
		{"dns", "dns", "hosta.test"},
		{"udp", "udp", hostA + ":53"},
	}
	want := map[string]string{
		"a_https": "ok hello from hosta.test", "a_http": "ok hello from hosta.test",
		"b_https": "err", "a_redirect_b": "err", "private": "err", "loopback": "err",
		"raw_a": "err", "dns": "err", "udp": "err",
	}
	return checks, want
}

// BypassPolicy is the allowlist BypassChecks expects.
const BypassPolicy = "allow:hosta.test:443,hosta.test:80,private.test:80,loop.test:80"
