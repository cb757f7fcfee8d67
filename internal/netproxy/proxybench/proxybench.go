// Package proxybench measures what the network proxy (internal/netproxy)
// adds to a request: a fresh connection and one GET against an origin on
// loopback, direct and through the proxy (plain-HTTP forwarding, and
// HTTPS through a CONNECT tunnel with its SNI check), interleaved, so the
// four series see the same machine load. `sandrun bench -only proxy` and
// the package's Go benchmark report it.
//
// The proxy is the one runs get (policy decision, its own resolution, the
// dialled-address check, metered copies); its listener is on the host's
// loopback here, where a run has it on the loopback of its own namespace:
// the same kernel path.
package proxybench

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/benchkit"
	"github.com/sandrun/sandrun/internal/netproxy"
	"github.com/sandrun/sandrun/netpolicy"
)

// Cases name the series Run returns, in order: HTTP direct, HTTP through
// the proxy, HTTPS direct, HTTPS through a CONNECT tunnel.
var Cases = []string{"http direct", "http via proxy", "https direct", "https via CONNECT"}

// Run measures n requests of each case after warmup rounds.
func Run(n, warmup int) ([]benchkit.Series, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello\n") })
	plain, tlsSrv := httptest.NewServer(mux), httptest.NewTLSServer(mux)
	defer plain.Close()
	defer tlsSrv.Close()
	hp, sp := portOf(plain.URL), portOf(tlsSrv.URL)

	pol, err := sandrun.ParseNetwork(fmt.Sprintf("allow:a.test:%s,a.test:%s", hp, sp))
	if err != nil {
		return nil, err
	}
	pol.Limits.Connections = netpolicy.MaxLimits().Connections
	lo := netip.MustParseAddr("127.0.0.1")
	op := &netpolicy.Operator{Allow: pol.Allow, Private: []netip.Prefix{netip.PrefixFrom(lo, 32)}}
	eff, err := op.Narrow(pol)
	if err != nil {
		return nil, err
	}
	hosts := &netpolicy.Hosts{}
	hosts.Add("a.test", lo)
	p := netproxy.New(netproxy.Config{Policy: eff, Resolver: hosts})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go p.Serve(l)
	defer p.Close()

	pu, _ := url.Parse("http://" + l.Addr().String())
	// httptest's certificate names example.com; the SNI must name the
	// CONNECT host (a.test): verification is off for both sides alike.
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
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %s", u, resp.Status)
			}
			return nil
		}
	}
	// Direct requests go to 127.0.0.1, the address the proxy resolves
	// a.test to.
	return benchkit.Interleave(n, warmup,
		benchkit.Case{Name: Cases[0], Run: get(direct, "http://127.0.0.1:"+hp+"/hello")},
		benchkit.Case{Name: Cases[1], Run: get(proxied, "http://a.test:"+hp+"/hello")},
		benchkit.Case{Name: Cases[2], Run: get(direct, "https://127.0.0.1:"+sp+"/hello")},
		benchkit.Case{Name: Cases[3], Run: get(proxied, "https://a.test:"+sp+"/hello")},
	)
}

// Report prints the two comparisons (each through the proxy against its
// direct baseline) and the added time per request.
func Report(w io.Writer, s []benchkit.Series) {
	benchkit.Report(w, "proxy: plain HTTP, a fresh connection and GET /hello per request", s[0:2])
	benchkit.Report(w, "proxy: HTTPS through a CONNECT tunnel, a fresh connection and GET /hello per request", s[2:4])
	fmt.Fprintf(w, "added per request (medians): http %v (%.2fx), https %v (%.2fx)\n",
		(s[1].Median() - s[0].Median()).Round(1000), benchkit.Ratio(s[1].Median(), s[0].Median()),
		(s[3].Median() - s[2].Median()).Round(1000), benchkit.Ratio(s[3].Median(), s[2].Median()))
}

func portOf(u string) string {
	p, _ := url.Parse(u)
	return p.Port()
}
