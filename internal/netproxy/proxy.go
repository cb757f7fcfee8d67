// Package netproxy is the forward proxy a run with a network allowlist
// talks to: HTTP CONNECT tunnels and plain-HTTP absolute-URI requests,
// served on a listener the backend opened inside the run's own network
// namespace (the program's only way out). Every destination is checked
// against the run's netpolicy.Effective, resolved by the proxy itself (no
// DNS inside the sandbox), and dialled only at an address that passed the
// check (the dialler checks the address again at connect time, so no
// later lookup can rebind it). Traffic is counted both ways and capped;
// every destination tried, allowed or refused, is recorded.
//
// It is written on net/http's parsers rather than a proxy library
// (elazarl/goproxy): the parts that matter here (the policy decision,
// the dialled-address check, per-run byte caps that cut a transfer
// mid-stream, the record of every attempt, the TLS SNI check) would all
// be hooks of ours anyway, and goproxy's CONNECT path, MITM machinery and
// shared transport are what the sandbox must not have.
package netproxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/netpolicy"
)

// Config configures one run's proxy.
type Config struct {
	Policy *netpolicy.Effective
	// Resolver resolves names; nil is the system's.
	Resolver netpolicy.Resolver
	// OnLimit is called once, from a connection's goroutine, when a cap
	// is hit; what says which ("bytes_down 1MiB"). The backend kills the
	// run (status network_limit).
	OnLimit func(what string)
	// DialTimeout bounds one upstream connect; default 10s.
	DialTimeout time.Duration
	// MaxClients caps the program's concurrent connections to the proxy;
	// default 64.
	MaxClients int
	Logger     *slog.Logger
}

// Proxy is one run's proxy. Serve it on a listener; Close it when the
// run ends; Usage is the record.
type Proxy struct {
	cfg      Config
	resolver netpolicy.Resolver
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	slots    chan struct{}

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	closed   bool
	usage    sandrun.NetworkUsage
	index    map[destKey]int
	tripped  bool
	listener net.Listener
}

type destKey struct {
	host    string
	port    int
	allowed bool
	reason  string
}

// maxDestinations bounds the record of distinct destinations.
const maxDestinations = 256

// New makes a proxy for one run.
func New(cfg Config) *Proxy {
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if cfg.MaxClients == 0 {
		cfg.MaxClients = 64
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{cfg: cfg, resolver: cfg.Resolver, conns: map[net.Conn]struct{}{}, index: map[destKey]int{},
		slots: make(chan struct{}, cfg.MaxClients)}
	if p.resolver == nil {
		p.resolver = net.DefaultResolver
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.usage.Destinations = []sandrun.NetworkDestination{}
	return p
}

// Serve accepts the program's connections until the listener is closed
// (by Close). It returns nil after Close.
func (p *Proxy) Serve(l net.Listener) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		l.Close()
		return nil
	}
	p.listener = l
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			p.mu.Lock()
			closed := p.closed
			p.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		select {
		case p.slots <- struct{}{}:
		default:
			c.Close() // too many at once: the program's problem
			continue
		}
		if !p.track(c) {
			<-p.slots
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer func() { <-p.slots }()
			defer p.untrack(c)
			p.handle(c)
		}()
	}
}

// Close stops the proxy: the listener, every connection both sides, and
// waits for the handlers.
func (p *Proxy) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		if p.listener != nil {
			p.listener.Close()
		}
		for c := range p.conns {
			c.Close()
		}
	}
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
}

// Usage returns a copy of the record so far.
func (p *Proxy) Usage() *sandrun.NetworkUsage {
	p.mu.Lock()
	defer p.mu.Unlock()
	u := p.usage
	u.Destinations = append([]sandrun.NetworkDestination{}, p.usage.Destinations...)
	return &u
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// trip records a hit cap, closes every connection (the transfer ends
// there) and tells the backend, once.
func (p *Proxy) trip(what, detail string) {
	p.mu.Lock()
	first := !p.tripped
	if first {
		p.tripped = true
		p.usage.LimitHit = what
	}
	p.mu.Unlock()
	if !first {
		return
	}
	// The backend hears of it before the connections close: once they
	// do, the program may end (a broken pipe) and its run be judged
	// before a later callback could name the cap.
	if p.cfg.OnLimit != nil {
		p.cfg.OnLimit(detail)
	}
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
}

// record adds an attempt to the destination's entry.
func (p *Proxy) record(host string, port int, allowed bool, reason, addr string) *sandrun.NetworkDestination {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !allowed {
		p.usage.Refused++
	}
	k := destKey{strings.ToLower(host), port, allowed, reason}
	i, ok := p.index[k]
	if !ok {
		if len(p.usage.Destinations) >= maxDestinations {
			p.usage.DestinationsTruncated = true
			return nil
		}
		i = len(p.usage.Destinations)
		p.index[k] = i
		p.usage.Destinations = append(p.usage.Destinations, sandrun.NetworkDestination{Host: host, Port: port, Allowed: allowed, Reason: reason})
	}
	d := &p.usage.Destinations[i]
	d.Attempts++
	if addr != "" {
		d.Address = addr
	}
	return d
}

// count adds transferred bytes to the totals and the destination, and
// says how many of n may pass under the cap.
func (p *Proxy) count(d int, n int64, dest *destKey) (allowed int64, over bool) {
	lim := p.cfg.Policy.Limits
	p.mu.Lock()
	defer p.mu.Unlock()
	total, cap := &p.usage.BytesDown, int64(lim.BytesDown)
	if d == up {
		total, cap = &p.usage.BytesUp, int64(lim.BytesUp)
	}
	allowed = n
	if cap > 0 && *total+n > cap {
		allowed = max(cap-*total, 0)
		over = true
	}
	*total += allowed
	if dest != nil {
		if i, ok := p.index[*dest]; ok {
			if d == up {
				p.usage.Destinations[i].BytesUp += allowed
			} else {
				p.usage.Destinations[i].BytesDown += allowed
			}
		}
	}
	return allowed, over
}

const (
	up   = 1
	down = 2
)

// meter counts and caps one direction of one connection.
type meter struct {
	p    *Proxy
	dir  int
	dest *destKey
	w    io.Writer
}

func (m *meter) Write(b []byte) (int, error) {
	n, over := m.p.count(m.dir, int64(len(b)), m.dest)
	if n > 0 {
		if w, err := m.w.Write(b[:n]); err != nil {
			return w, err
		}
	}
	if over {
		lim := m.p.cfg.Policy.Limits
		if m.dir == up {
			m.p.trip("bytes_up", "bytes_up "+lim.BytesUp.String())
		} else {
			m.p.trip("bytes_down", "bytes_down "+lim.BytesDown.String())
		}
		return int(n), errCapped
	}
	return len(b), nil
}

var errCapped = errors.New("network traffic cap reached")

// connection admits one upstream connection under the cap.
func (p *Proxy) connection() bool {
	p.mu.Lock()
	ok := p.usage.Connections < p.cfg.Policy.Limits.Connections || p.cfg.Policy.Limits.Connections == 0
	if ok {
		p.usage.Connections++
	}
	p.mu.Unlock()
	if !ok {
		p.trip("connections", fmt.Sprintf("connections %d", p.cfg.Policy.Limits.Connections))
	}
	return ok
}

// handle serves one connection from the program: a CONNECT tunnel, or a
// sequence of plain-HTTP requests.
func (p *Proxy) handle(c net.Conn) {
	br := bufio.NewReaderSize(c, maxHeader)
	for {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Minute))
		// net/http drops the Host header of an absolute-URI request; the
		// proxy must see it to refuse a mismatch, so it reads it first.
		hostHdr, herr := peekHost(br)
		req, err := http.ReadRequest(br)
		if err == nil && herr != nil {
			err = herr
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				p.refuse(c, "", 0, http.StatusBadRequest, "not an HTTP proxy request: "+err.Error())
			}
			return
		}
		_ = c.SetReadDeadline(time.Time{})
		if req.Method == http.MethodConnect {
			p.tunnel(c, br, req)
			return
		}
		if !p.forward(c, req, hostHdr) {
			return
		}
	}
}

// maxHeader bounds a request's header block.
const maxHeader = 64 << 10

// peekHost returns the Host header of the request at the front of br
// without consuming anything.
func peekHost(br *bufio.Reader) (string, error) {
	want := 1
	for {
		// Wait for more than is buffered, then look at all of it.
		if _, err := br.Peek(want); err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return "", errors.New("the request header is larger than 64 KiB")
			}
			return "", err
		}
		b, _ := br.Peek(br.Buffered())
		end := bytes.Index(b, []byte("\r\n\r\n"))
		if end < 0 {
			end = bytes.Index(b, []byte("\n\n"))
		}
		if end >= 0 {
			tr := textproto.NewReader(bufio.NewReader(bytes.NewReader(b[:end+2])))
			if _, err := tr.ReadLine(); err != nil {
				return "", err
			}
			h, err := tr.ReadMIMEHeader()
			if err != nil && !errors.Is(err, io.EOF) {
				return "", err
			}
			return h.Get("Host"), nil
		}
		want = len(b) + 1
	}
}

// refuse answers the program with an error and records the attempt
// (host "" when the request named no destination).
func (p *Proxy) refuse(c net.Conn, host string, port int, code int, reason string) {
	if host != "" {
		p.record(host, port, false, reason, "")
	}
	body := "sandrun network policy: " + reason + "\n"
	fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nX-Sandrun-Refused: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		code, http.StatusText(code), headerSafe(reason), len(body), body)
}

func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return ' '
		}
		return r
	}, s)
}

// decision is the outcome of checking one destination.
type decision struct {
	host   string // as named (lower case, no brackets)
	port   uint16
	addrs  []netip.Addr
	reason string // non-empty: refused
	status int
}

// decide checks a destination (host as the program named it, port) and
// resolves it.
func (p *Proxy) decide(host, portStr string) decision {
	d := decision{host: strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		d.reason, d.status = fmt.Sprintf("%q is not a port", portStr), http.StatusBadRequest
		return d
	}
	d.port = uint16(port)
	pol := p.cfg.Policy
	if a, err := netip.ParseAddr(d.host); err == nil {
		switch {
		case !pol.AllowsAddr(a, d.port):
			d.reason = fmt.Sprintf("%s port %d is not in the allowlist", a, port)
		default:
			if err := pol.Dialable(a); err != nil {
				d.reason = err.Error()
			} else {
				d.addrs = []netip.Addr{a.Unmap()}
			}
		}
		if d.reason != "" {
			d.status = http.StatusForbidden
		}
		return d
	}
	if sandrun.ValidateHostPattern(d.host) != nil || strings.Contains(d.host, "*") {
		d.reason, d.status = fmt.Sprintf("%q is not a host name", d.host), http.StatusBadRequest
		return d
	}
	if !pol.AllowsName(d.host, d.port) {
		d.reason, d.status = fmt.Sprintf("%s port %d is not in the allowlist", d.host, port), http.StatusForbidden
		return d
	}
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.DialTimeout)
	defer cancel()
	addrs, err := p.resolver.LookupNetIP(ctx, "ip", d.host)
	if err != nil {
		d.reason, d.status = "cannot resolve "+d.host+": "+err.Error(), http.StatusBadGateway
		return d
	}
	var why []string
	for _, a := range addrs {
		if err := pol.Dialable(a); err != nil {
			why = append(why, err.Error())
			continue
		}
		d.addrs = append(d.addrs, a.Unmap())
	}
	if len(d.addrs) == 0 {
		d.reason, d.status = d.host+" resolves only to refused addresses: "+strings.Join(why, "; "), http.StatusForbidden
		if len(addrs) == 0 {
			d.reason, d.status = "cannot resolve "+d.host, http.StatusBadGateway
		}
	}
	return d
}

// dial connects to the first address that answers. The dialler's control
// hook checks the address the kernel is about to connect to once more.
func (p *Proxy) dial(d decision) (net.Conn, netip.Addr, error) {
	dialer := net.Dialer{
		Timeout: p.cfg.DialTimeout,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return err
			}
			return p.cfg.Policy.Dialable(ap.Addr())
		},
	}
	var last error
	for _, a := range d.addrs {
		c, err := dialer.DialContext(p.ctx, "tcp", netip.AddrPortFrom(a, d.port).String())
		if err == nil {
			return c, a, nil
		}
		last = err
	}
	return nil, netip.Addr{}, last
}
