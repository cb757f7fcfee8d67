package netproxy_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/netproxy"
	"github.com/sandrun/sandrun/netpolicy"
)

// env is a proxy on a loopback listener with two origin servers on
// loopback, named a.test (allowed) and b.test (not), plus evil.test,
// which the allowlist names but which resolves to loopback without the
// operator's permission in the "strict" variant.
type env struct {
	proxy    *netproxy.Proxy
	addr     string
	httpSrv  *httptest.Server
	tlsSrv   *httptest.Server
	httpPort string
	tlsPort  string
	pool     *x509.CertPool
	limit    atomic.Value
}

func newEnv(t *testing.T, allow string, permitLoopback bool, lim sandrun.NetworkLimits) *env {
	t.Helper()
	e := &env{}
	body := strings.Repeat("x", 1<<20)
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "hello from %s", r.Host) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://b.test:"+e.httpPort+"/hello", http.StatusFound)
	})
	e.httpSrv = httptest.NewServer(mux)
	e.tlsSrv = httptest.NewTLSServer(mux)
	t.Cleanup(e.httpSrv.Close)
	t.Cleanup(e.tlsSrv.Close)
	e.httpPort = port(e.httpSrv.URL)
	e.tlsPort = port(e.tlsSrv.URL)
	e.pool = x509.NewCertPool()
	e.pool.AddCert(e.tlsSrv.Certificate())

	allow = strings.NewReplacer("HTTP", e.httpPort, "TLS", e.tlsPort).Replace(allow)
	pol, err := sandrun.ParseNetwork(allow)
	if err != nil {
		t.Fatal(err)
	}
	pol.Limits = lim
	op := &netpolicy.Operator{Allow: []sandrun.NetworkRule{{Host: "*", Ports: []sandrun.PortRange{sandrun.AnyPort}},
		{CIDR: "0.0.0.0/0", Ports: []sandrun.PortRange{sandrun.AnyPort}}, {CIDR: "::/0", Ports: []sandrun.PortRange{sandrun.AnyPort}}}}
	if permitLoopback {
		op.Private = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}
	eff, err := op.Narrow(pol)
	if err != nil {
		t.Fatal(err)
	}
	hosts := &netpolicy.Hosts{}
	lo := netip.MustParseAddr("127.0.0.1")
	hosts.Add("a.test", lo)
	hosts.Add("b.test", lo)
	hosts.Add("evil.test", lo)
	e.proxy = netproxy.New(netproxy.Config{Policy: eff, Resolver: hosts, OnLimit: func(w string) { e.limit.Store(w) }})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = l.Addr().String()
	go e.proxy.Serve(l)
	t.Cleanup(e.proxy.Close)
	return e
}

func port(u string) string {
	p, _ := url.Parse(u)
	return p.Port()
}

func (e *env) client() *http.Client {
	pu, _ := url.Parse("http://" + e.addr)
	return &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{
			Proxy:             http.ProxyURL(pu),
			TLSClientConfig:   &tls.Config{RootCAs: e.pool},
			DisableKeepAlives: false,
		},
	}
}

func get(t *testing.T, c *http.Client, u string) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		return 0, err.Error(), nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func findDest(u *sandrun.NetworkUsage, host string, allowed bool) *sandrun.NetworkDestination {
	for i := range u.Destinations {
		d := &u.Destinations[i]
		if d.Host == host && d.Allowed == allowed {
			return d
		}
	}
	return nil
}

func TestAllowedAndRefused(t *testing.T) {
	e := newEnv(t, "allow:a.test:HTTP,a.test:TLS,evil.test:HTTP", true, sandrun.NetworkLimits{})
	c := e.client()
	// The certificate of httptest's TLS server names example.com.
	c.Transport.(*http.Transport).TLSClientConfig.ServerName = "example.com"
	for i := 0; i < 2; i++ { // keep-alive: two requests on one proxy connection
		if code, body, _ := get(t, c, "http://a.test:"+e.httpPort+"/hello"); code != 200 || body != "hello from a.test:"+e.httpPort {
			t.Fatalf("plain http through the proxy: %d %q", code, body)
		}
	}
	// b.test is not in the allowlist; neither is a.test on another port.
	if code, body, h := get(t, c, "http://b.test:"+e.httpPort+"/hello"); code != 403 || h.Get("X-Sandrun-Refused") == "" {
		t.Fatalf("b.test: %d %q", code, body)
	}
	if code, _, _ := get(t, c, "http://a.test:1/hello"); code != 403 {
		t.Fatalf("a.test on a port not allowed: %d", code)
	}
	// A redirect to a host not allowed: the client follows it through the
	// proxy, which refuses the second hop.
	if code, _, _ := get(t, c, "http://a.test:"+e.httpPort+"/redirect"); code != 403 {
		t.Fatalf("redirect to b.test: %d", code)
	}
	u := e.proxy.Usage()
	if d := findDest(u, "a.test", true); d == nil || d.Attempts < 3 || d.BytesDown == 0 || d.Address != "127.0.0.1" {
		t.Fatalf("a.test record: %+v", u.Destinations)
	}
	if d := findDest(u, "b.test", false); d == nil || !strings.Contains(d.Reason, "not in the allowlist") {
		t.Fatalf("b.test record: %+v", u.Destinations)
	}
	if u.Refused < 3 || u.Connections < 3 || u.BytesDown == 0 || u.BytesUp == 0 {
		t.Fatalf("totals: %+v", u)
	}
}

// connect opens a raw CONNECT through the proxy and returns the
// connection after the proxy's answer, and that answer's status.
func connect(t *testing.T, proxy, target string) (net.Conn, int) {
	t.Helper()
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		t.Fatalf("CONNECT %s: %v", target, err)
	}
	return c, resp.StatusCode
}

func TestConnect(t *testing.T) {
	e := newEnv(t, "allow:a.test:TLS,b.test:TLS", true, sandrun.NetworkLimits{})
	c, code := connect(t, e.addr, "a.test:"+e.tlsPort)
	if code != 200 {
		t.Fatalf("CONNECT a.test: %d", code)
	}
	// httptest's certificate is for example.com; the SNI check compares
	// the ClientHello's name with the CONNECT host, so send a.test.
	tc := tls.Client(c, &tls.Config{ServerName: "a.test", RootCAs: e.pool, InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS through the tunnel: %v", err)
	}
	fmt.Fprintf(tc, "GET /hello HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
	b, _ := io.ReadAll(tc)
	if !strings.Contains(string(b), "hello from a.test") {
		t.Fatalf("through the tunnel: %q", b)
	}
	tc.Close()

	// SNI naming another host than the CONNECT: refused, nothing sent on.
	c, code = connect(t, e.addr, "a.test:"+e.tlsPort)
	if code != 200 {
		t.Fatalf("CONNECT a.test: %d", code)
	}
	tc = tls.Client(c, &tls.Config{ServerName: "b.test", InsecureSkipVerify: true})
	if err := tc.Handshake(); err == nil {
		t.Fatal("a TLS handshake whose SNI names another host went through")
	}
	tc.Close()
	u := e.proxy.Usage()
	if d := findDest(u, "a.test", false); d == nil || !strings.Contains(d.Reason, "does not match the CONNECT host") {
		t.Fatalf("SNI mismatch record: %+v", u.Destinations)
	}

	for target, want := range map[string]int{
		"a.test:22":              403, // a port not allowed
		"c.test:" + e.tlsPort:    403, // not allowed (and unknown)
		"127.0.0.1:" + e.tlsPort: 403, // IP literal without a CIDR rule
		"[::1]:" + e.tlsPort:     403, // IPv6 literal
		"a.test:0":               400,
		"*.test:443":             400,
	} {
		c, code := connect(t, e.addr, target)
		c.Close()
		if code != want {
			t.Errorf("CONNECT %s: %d, want %d", target, code, want)
		}
	}
}

func TestPrivateAddressRefused(t *testing.T) {
	// evil.test is allowed by name but resolves to loopback, which the
	// operator does not permit here.
	e := newEnv(t, "allow:evil.test:HTTP", false, sandrun.NetworkLimits{})
	code, body, _ := get(t, e.client(), "http://evil.test:"+e.httpPort+"/hello")
	if code != 403 || !strings.Contains(body, "loopback") {
		t.Fatalf("a name resolving to loopback: %d %q", code, body)
	}
}

func TestHostHeaderMismatch(t *testing.T) {
	e := newEnv(t, "allow:a.test:HTTP", true, sandrun.NetworkLimits{})
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET http://a.test:%s/hello HTTP/1.1\r\nHost: b.test\r\n\r\n", e.httpPort)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 403 {
		t.Fatalf("Host header naming another host: %v %v", resp, err)
	}
	// Not a proxy request at all (origin form), and https:// through the
	// plain proxy.
	for _, line := range []string{"GET /hello HTTP/1.1\r\nHost: a.test\r\n\r\n", "GET https://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n"} {
		c, _ := net.Dial("tcp", e.addr)
		io.WriteString(c, line)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err != nil || resp.StatusCode != 400 {
			t.Fatalf("%q: %v %v", line, resp, err)
		}
	}
}

func TestByteCap(t *testing.T) {
	e := newEnv(t, "allow:a.test:HTTP,a.test:TLS", true, sandrun.NetworkLimits{BytesDown: 100 << 10})
	code, body, _ := get(t, e.client(), "http://a.test:"+e.httpPort+"/big")
	if code == 200 && len(body) == 1<<20 {
		t.Fatal("a 1 MiB body passed a 100 KiB cap")
	}
	u := e.proxy.Usage()
	if u.LimitHit != "bytes_down" || u.BytesDown > 100<<10 || e.limit.Load() != "bytes_down 100KiB" {
		t.Fatalf("usage %+v, OnLimit %v", u, e.limit.Load())
	}
}

func TestConnectionCap(t *testing.T) {
	e := newEnv(t, "allow:a.test:HTTP", true, sandrun.NetworkLimits{Connections: 2})
	c := e.client()
	for i := 0; i < 2; i++ {
		if code, _, _ := get(t, c, "http://a.test:"+e.httpPort+"/hello"); code != 200 {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	if code, _, _ := get(t, c, "http://a.test:"+e.httpPort+"/hello"); code == 200 {
		t.Fatal("a third request passed a cap of 2")
	}
	if u := e.proxy.Usage(); u.LimitHit != "connections" || u.Connections != 2 {
		t.Fatalf("usage %+v", u)
	}
}
