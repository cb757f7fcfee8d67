package netproxy_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/benchkit"
)

// BenchmarkProxyAddedLatency is the proxy's cost per request: a fresh
// connection and one GET, direct against through the proxy (plain HTTP
// forwarding, and HTTPS through a CONNECT tunnel), interleaved, medians,
// the load average beside. Run with
//
//	go test -run '^$' -bench ProxyAddedLatency -benchtime 200x ./internal/netproxy/
func BenchmarkProxyAddedLatency(b *testing.B) {
	t := &testing.T{}
	e := newEnv(t, "allow:a.test:HTTP,a.test:TLS", true, sandrun.NetworkLimits{Connections: 4096})
	defer e.proxy.Close()
	defer e.httpSrv.Close()
	defer e.tlsSrv.Close()
	pu, _ := url.Parse("http://" + e.addr)
	// httptest's certificate names example.com: the SNI must name the
	// CONNECT host (a.test), so verification is off for both sides alike.
	tlsCfg := &tls.Config{InsecureSkipVerify: true}
	direct := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: tlsCfg}}
	proxied := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: tlsCfg, Proxy: http.ProxyURL(pu)}}
	get := func(c *http.Client, u string) func() error {
		return func() error {
			resp, err := c.Get(u)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("%s: %d", u, resp.StatusCode)
			}
			return nil
		}
	}
	// Direct requests go to 127.0.0.1 under the name the proxy resolves.
	hd := "http://127.0.0.1:" + e.httpPort + "/hello"
	sd := "https://127.0.0.1:" + e.tlsPort + "/hello"
	hp := "http://a.test:" + e.httpPort + "/hello"
	sp := "https://a.test:" + e.tlsPort + "/hello"
	n := max(b.N, 20)
	b.ResetTimer()
	s, err := benchkit.Interleave(n, 5,
		benchkit.Case{Name: "http direct", Run: get(direct, hd)},
		benchkit.Case{Name: "http via proxy", Run: get(proxied, hp)},
		benchkit.Case{Name: "https direct", Run: get(direct, sd)},
		benchkit.Case{Name: "https via CONNECT", Run: get(proxied, sp)},
	)
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	load, _ := os.ReadFile("/proc/loadavg")
	var sb strings.Builder
	benchkit.Report(&sb, "proxy added latency per request (fresh connection, GET /hello)", s)
	b.Logf("\n%sload average %s", sb.String(), strings.Join(strings.Fields(string(load))[:3], " "))
	b.ReportMetric(float64((s[1].Median() - s[0].Median()).Microseconds()), "http-added-us")
	b.ReportMetric(float64((s[3].Median() - s[2].Median()).Microseconds()), "https-added-us")
	b.ReportMetric(benchkit.Ratio(s[1].Median(), s[0].Median()), "http-ratio")
	b.ReportMetric(benchkit.Ratio(s[3].Median(), s[2].Median()), "https-ratio")
}
