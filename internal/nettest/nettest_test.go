//go:build linux

package nettest_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/netproxy"
	"github.com/sandrun/sandrun/internal/nettest"
	"github.com/sandrun/sandrun/netpolicy"
	"golang.org/x/sys/unix"
)

// inNS runs f on a thread inside the namespace at path (a client that
// sees only that namespace, as a sandboxed program does).
func inNS(t *testing.T, path string, f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			t.Error(err)
			return
		}
		f()
	}()
	<-done
}

// TestProxyInNamespace: a proxy listening in a fresh namespace (as a run
// has) lets a client there reach host A over HTTPS, refuses host B, and
// the client has no other way out.
func TestProxyInNamespace(t *testing.T) {
	n := nettest.New(t, "hosta.test", "hostb.test")
	ns := fmt.Sprintf("%s%d-run-%d", nettest.Prefix, unix.Getpid(), time.Now().UnixNano()%100000)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	pol, _ := sandrun.ParseNetwork("allow:hosta.test:443,hosta.test:80")
	op := &netpolicy.Operator{Allow: pol.Allow, Private: n.Private()}
	eff, err := op.Narrow(pol)
	if err != nil {
		t.Fatal(err)
	}
	run, err := netproxy.Start("/run/netns/"+ns, netproxy.Config{Policy: eff, Resolver: n.Resolver(nil)})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(n.CA)
	pu, _ := url.Parse("http://" + netproxy.Addr)
	// The transport dials on goroutines of its own, in the test's
	// namespace: it gets connections made inside the run's namespace.
	conns := make(chan net.Conn, 2)
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true,
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			select {
			case cn := <-conns:
				return cn, nil
			default:
				return nil, errors.New("no connection made in the namespace left")
			}
		}}}
	var a, b, direct string
	inNS(t, "/run/netns/"+ns, func() {
		for i := 0; i < 2; i++ {
			cn, err := net.Dial("tcp", netproxy.Addr)
			if err != nil {
				t.Errorf("dialling the proxy in the namespace: %v", err)
				return
			}
			conns <- cn
		}
		cn, err := net.DialTimeout("tcp", n.Host("hosta.test").Addr.String()+":80", 3*time.Second)
		if err == nil {
			cn.Close()
			direct = "connected"
		} else {
			direct = err.Error()
		}
	})
	a = fetch(c, "https://hosta.test/hello")
	b = fetch(c, "https://hostb.test/hello")
	u := run.Stop()
	if a != "200 hello from hosta.test\n" {
		t.Errorf("host A through the proxy: %q", a)
	}
	if !strings.HasPrefix(b, "error") || !strings.Contains(b, "Forbidden") && !strings.Contains(b, "403") {
		t.Errorf("host B through the proxy: %q", b)
	}
	if !strings.Contains(direct, "unreachable") {
		t.Errorf("a direct connection from the namespace: %q", direct)
	}
	if u.Connections != 1 || u.Refused != 1 || len(u.Destinations) != 2 || u.Destinations[0].Address != n.Host("hosta.test").Addr.String() {
		t.Errorf("usage %+v", u)
	}
}

func fetch(c *http.Client, u string) string {
	resp, err := c.Get(u)
	if err != nil {
		return "error " + err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, b)
}
