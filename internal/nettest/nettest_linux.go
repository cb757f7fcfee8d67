//go:build linux

// Package nettest builds the project's own test hosts for the network
// policy tests: each host is a network namespace made by the test (ip
// netns add), joined to the test's namespace by a veth pair, serving HTTP
// on port 80 and HTTPS on 443 with a certificate from a CA made for the
// test. The servers are goroutines of the test process whose listening
// sockets live in the host's namespace. Nothing leaves the machine; every
// namespace and veth is removed in t.Cleanup, also when the test fails,
// and New sweeps what a killed test process left.
package nettest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/netproxy"
	"github.com/sandrun/sandrun/netpolicy"
)

// Host is one test host.
type Host struct {
	Name string     // DNS name the tests give it ("hosta.test")
	Addr netip.Addr // its address, reachable from the test's namespace
	NS   string     // its network namespace
}

// Net is a set of test hosts.
type Net struct {
	Hosts []*Host
	// CA is the PEM certificate that signed every host's certificate;
	// hand it to the program (a file) so its TLS clients trust the hosts.
	CA []byte
	// Gateway is the test namespace's own address on the first host's
	// link: a private address that is not a test host.
	Gateway netip.Addr
	tag     string
}

// Prefix starts the name of every namespace this package makes:
// srn6-<pid>-<tag>-<n>.
const Prefix = "srn6-"

// Available says why test hosts cannot be built here ("" when they can).
func Available() string {
	why, _ := need(os.Geteuid(), hasIP(), false)
	return why
}

func hasIP() bool {
	_, err := exec.LookPath("ip")
	return err == nil
}

// need decides what a test does without its test hosts: without root it
// skips (also in strict mode: a user without root has no jail or
// namespaces either, as the jail's own tests decide); as root, a missing
// iproute2 is a broken setup (scripts/setup.d/00-apt.sh installs it),
// so strict mode fails the test.
func need(euid int, ip, strict bool) (why string, fail bool) {
	switch {
	case euid != 0:
		return "test hosts need root (ip netns, veth)", false
	case !ip:
		return "test hosts need iproute2's ip (scripts/setup.d/00-apt.sh installs it)", strict
	}
	return "", false
}

// Usable says why test hosts cannot be built here ("" when they can) and
// whether that must fail the test (SANDRUN_TEST_STRICT=1 and root, but no
// iproute2) rather than skip it.
func Usable() (why string, fail bool) {
	return need(os.Geteuid(), hasIP(), os.Getenv("SANDRUN_TEST_STRICT") == "1")
}

// Skip skips t, or fails it under SANDRUN_TEST_STRICT=1 when the reason
// is a missing dependency rather than a missing root, when test hosts
// cannot be built here. It reports whether they can.
func Skip(t testing.TB) bool {
	t.Helper()
	why, fail := Usable()
	switch {
	case fail:
		t.Fatal(why)
	case why != "":
		t.Skip(why)
	}
	return true
}

// New builds one test host per name. Without root it skips the test;
// without iproute2 it skips it too, or fails it under
// SANDRUN_TEST_STRICT=1.
func New(t testing.TB, names ...string) *Net {
	t.Helper()
	Skip(t)
	sweep()
	// The veth names are host-wide (the test's namespace): 32 random bits
	// keep concurrent test processes' apart. The subnet is picked and its
	// addresses added under a host-wide lock, so two processes never pick
	// the same one between looking and adding.
	n := &Net{tag: fmt.Sprintf("%08x", mrand.Uint32())}
	unlock, err := lockHost()
	if err != nil {
		t.Fatalf("nettest: %v", err)
	}
	defer unlock()
	octet, ok := freeOctet()
	if !ok {
		t.Fatal("nettest: every 10.206.X.0/24 has an address of this machine")
	}
	caCert, caKey := newCA(t)
	n.CA = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caCert.Raw})
	for i, name := range names {
		h := &Host{
			Name: name,
			Addr: netip.AddrFrom4([4]byte{10, 206, octet, byte(4*i + 2)}),
			NS:   fmt.Sprintf("%s%d-%s-%d", Prefix, os.Getpid(), n.tag, i),
		}
		local := netip.AddrFrom4([4]byte{10, 206, octet, byte(4*i + 1)})
		if i == 0 {
			n.Gateway = local
		}
		vh, vn := fmt.Sprintf("s6%sh%d", n.tag, i), fmt.Sprintf("s6%sn%d", n.tag, i)
		t.Cleanup(func() {
			_ = exec.Command("ip", "netns", "del", h.NS).Run()
			_ = exec.Command("ip", "link", "del", vh).Run() // gone with the namespace; in case it was not
		})
		for _, args := range [][]string{
			{"netns", "add", h.NS},
			{"link", "add", vh, "type", "veth", "peer", "name", vn, "netns", h.NS},
			{"addr", "add", local.String() + "/30", "dev", vh},
			{"link", "set", vh, "up"},
			{"-n", h.NS, "addr", "add", h.Addr.String() + "/30", "dev", vn},
			{"-n", h.NS, "link", "set", vn, "up"},
			{"-n", h.NS, "link", "set", "lo", "up"},
		} {
			if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
			}
		}
		n.serve(t, h, caCert, caKey)
		n.Hosts = append(n.Hosts, h)
	}
	return n
}

// Host returns the host named name.
func (n *Net) Host(name string) *Host {
	for _, h := range n.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// Resolver maps every host's name to its address, plus extra names (for
// a name that resolves to an address no test host has).
func (n *Net) Resolver(extra map[string]netip.Addr) *netpolicy.Hosts {
	r := &netpolicy.Hosts{}
	for _, h := range n.Hosts {
		r.Add(h.Name, h.Addr)
	}
	for name, a := range extra {
		r.Add(name, a)
	}
	return r
}

// Operator is the operator's settings the tests give a backend: allow
// (the command-line form, "allow:*.test:80-443") as the ceiling, the
// hosts' addresses as the only permitted private ones, and the hosts'
// names plus Names() as the resolver.
func (n *Net) Operator(allow string) (*netpolicy.Operator, error) {
	pol, err := sandrun.ParseNetwork(allow)
	if err != nil {
		return nil, err
	}
	return &netpolicy.Operator{Allow: pol.Allow, Private: n.Private(), Resolver: n.Resolver(n.Names())}, nil
}

// Names are the extra names every test gives its resolver: private.test
// resolves to the test namespace's own address on the first link (a
// private address that is not a test host: it stands for the host's own
// services), loop.test to 127.0.0.1 and loop6.test to ::1.
func (n *Net) Names() map[string]netip.Addr {
	return map[string]netip.Addr{
		"private.test": n.Gateway,
		"loop.test":    netip.MustParseAddr("127.0.0.1"),
		"loop6.test":   netip.IPv6Loopback(),
	}
}

// Private lists the hosts' addresses as /32s, for Operator.Private: the
// test hosts and nothing else of their private range.
func (n *Net) Private() []netip.Prefix {
	var out []netip.Prefix
	for _, h := range n.Hosts {
		out = append(out, netip.PrefixFrom(h.Addr, 32))
	}
	return out
}

// HostsFile writes the names as a hosts(5) file (for the CLI's
// --network-hosts) and returns its path.
func (n *Net) HostsFile(t testing.TB) string {
	var b bytes.Buffer
	for _, h := range n.Hosts {
		fmt.Fprintf(&b, "%s %s\n", h.Addr, h.Name)
	}
	p := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// serve starts HTTP (80) and HTTPS (443) on the host's address inside
// its namespace.
func (n *Net) serve(t testing.TB, h *Host, ca *x509.Certificate, caKey *ecdsa.PrivateKey) {
	cert := leaf(t, h, ca, caKey)
	ns := "/run/netns/" + h.NS
	for _, tlsOn := range []bool{false, true} {
		port := 80
		if tlsOn {
			port = 443
		}
		l, err := netproxy.ListenIn(ns, netip.AddrPortFrom(h.Addr, uint16(port)).String())
		if err != nil {
			t.Fatalf("listening in %s: %v", h.NS, err)
		}
		if tlsOn {
			l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}})
		}
		srv := &http.Server{Handler: Handler(h.Name), ReadHeaderTimeout: 30 * time.Second}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
	}
}

// Handler is what every test host serves:
//
//	/hello           "hello from NAME"
//	/bytes/N         N bytes of 'x'
//	/upload          the size of the request body ("got N")
//	/redirect?to=URL a 302 to URL
func Handler(name string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", name)
	})
	mux.HandleFunc("/bytes/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.PathValue("n"), 10, 64)
		if err != nil || n < 0 || n > 1<<30 {
			http.Error(w, "bad size", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		for n > 0 {
			k := min(n, int64(len(chunk)))
			if _, err := w.Write(chunk[:k]); err != nil {
				return
			}
			n -= k
		}
	})
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		var got int64
		buf := make([]byte, 32<<10)
		for {
			k, err := r.Body.Read(buf)
			got += int64(k)
			if err != nil {
				break
			}
		}
		fmt.Fprintf(w, "got %d\n", got)
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	return mux
}

func newCA(t testing.TB) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sandrun test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func leaf(t testing.TB, h *Host, ca *x509.Certificate, caKey *ecdsa.PrivateKey) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(mrand.Int64N(1<<62) + 2),
		Subject:      pkix.Name{CommonName: h.Name},
		DNSNames:     []string{h.Name},
		IPAddresses:  []net.IP{h.Addr.AsSlice()},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// freeOctet picks 10.206.X.0/24 with no address of this machine in it.
func freeOctet() (byte, bool) {
	out, _ := exec.Command("ip", "-4", "-o", "addr", "show").Output()
	for _, i := range mrand.Perm(256) {
		if !bytes.Contains(out, []byte(fmt.Sprintf(" 10.206.%d.", i))) {
			return byte(i), true
		}
	}
	return 0, false
}

// lockPath is the host-wide lock of test-host subnets (root only, as
// test hosts are).
const lockPath = "/run/sandrun-nettest.lock"

// lockHost takes the host-wide lock; the returned func releases it.
func lockHost() (func(), error) {
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", lockPath, err)
	}
	return func() { f.Close() }, nil
}

// sweep removes the namespaces of test processes that are gone.
func sweep() {
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), Prefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
			_ = exec.Command("ip", "netns", "del", e.Name()).Run()
		}
	}
}
