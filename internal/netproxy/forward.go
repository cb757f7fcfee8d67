package netproxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// tunnel serves a CONNECT: check, dial, 200, then copy both ways with the
// meters. A TLS ClientHello's server name must be the host the program
// asked to CONNECT to (no fronting another name at the same address).
func (p *Proxy) tunnel(c net.Conn, br *bufio.Reader, req *http.Request) {
	host, port, err := net.SplitHostPort(req.RequestURI)
	if err != nil {
		p.refuse(c, req.RequestURI, 0, http.StatusBadRequest, "CONNECT wants host:port")
		return
	}
	d := p.decide(host, port)
	pn, _ := strconv.Atoi(port)
	if d.reason != "" {
		p.refuse(c, d.host, pn, d.status, d.reason)
		return
	}
	if !p.connection() {
		p.refuse(c, d.host, pn, http.StatusTooManyRequests, "the run's connection limit is reached")
		return
	}
	upc, addr, err := p.dial(d)
	if err != nil {
		p.refuse(c, d.host, pn, http.StatusBadGateway, "cannot connect: "+errText(err))
		return
	}
	if !p.track(upc) {
		return
	}
	defer p.untrack(upc)
	p.record(d.host, pn, true, "", addr.String())
	key := &destKey{d.host, pn, true, ""}
	toProgram := &meter{p: p, dir: down, dest: key, w: c}
	if _, err := io.WriteString(toProgram, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	// The server may speak first (it gets its bytes to the program at
	// once); the program's first bytes are checked before any goes up.
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(toProgram, upc)
		closeWrite(c)
	}()
	first, err := p.firstBytes(br, d.host)
	if err != nil {
		p.record(d.host, pn, false, err.Error(), addr.String())
		c.Close()
		upc.Close()
		<-done
		return
	}
	toUp := &meter{p: p, dir: up, dest: key, w: upc}
	if _, err := toUp.Write(first); err == nil {
		_, _ = io.Copy(toUp, br)
	}
	closeWrite(upc)
	<-done
}

// firstBytes reads what the program sends first on a tunnel. When it is a
// TLS handshake, the whole ClientHello is read and its server name
// checked against the CONNECT host (an IP-literal CONNECT has no name to
// check). The bytes read are returned to be sent on.
func (p *Proxy) firstBytes(br *bufio.Reader, host string) ([]byte, error) {
	b, err := br.Peek(1)
	if err != nil {
		return nil, nil // the program closed: nothing to check or send
	}
	if b[0] != 0x16 { // not a TLS handshake record
		return nil, nil
	}
	var seen bytes.Buffer
	sni, err := clientHelloServerName(io.TeeReader(br, &seen))
	if err != nil {
		return nil, fmt.Errorf("unreadable TLS ClientHello: %w", err)
	}
	if sni != "" && !strings.EqualFold(strings.TrimSuffix(sni, "."), host) && !isIP(host) {
		return nil, fmt.Errorf("TLS server name %q does not match the CONNECT host %q", sni, host)
	}
	return seen.Bytes(), nil
}

func isIP(h string) bool { return net.ParseIP(h) != nil }

// clientHelloServerName parses a ClientHello with crypto/tls itself (a
// server handshake on a read-only connection, stopped as soon as the
// hello is parsed) and returns its server name.
func clientHelloServerName(r io.Reader) (string, error) {
	var name string
	var got bool
	err := tls.Server(readOnly{r}, &tls.Config{
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			name, got = h.ServerName, true
			return nil, errHelloRead
		},
	}).Handshake()
	if got {
		return name, nil
	}
	return "", err
}

var errHelloRead = errors.New("hello read")

// readOnly is a net.Conn that only reads; writes fail, so the stopped
// handshake sends nothing.
type readOnly struct{ r io.Reader }

func (c readOnly) Read(b []byte) (int, error)     { return c.r.Read(b) }
func (readOnly) Write([]byte) (int, error)        { return 0, io.ErrClosedPipe }
func (readOnly) Close() error                     { return nil }
func (readOnly) LocalAddr() net.Addr              { return nil }
func (readOnly) RemoteAddr() net.Addr             { return nil }
func (readOnly) SetDeadline(time.Time) error      { return nil }
func (readOnly) SetReadDeadline(time.Time) error  { return nil }
func (readOnly) SetWriteDeadline(time.Time) error { return nil }
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	} else {
		c.Close()
	}
}

// hopHeaders are not forwarded (RFC 9110 section 7.6.1), nor the proxy's
// own.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Upgrade"}

// forward serves one plain-HTTP proxy request (absolute URI). It returns
// whether the connection may serve another request.
func (p *Proxy) forward(c net.Conn, req *http.Request, hostHdr string) bool {
	u := req.URL
	if u == nil || u.Host == "" || !u.IsAbs() {
		p.refuse(c, "", 0, http.StatusBadRequest, "this is a proxy: send an absolute http:// URL (or CONNECT)")
		return false
	}
	host, port := u.Hostname(), u.Port()
	if u.Scheme != "http" {
		p.refuse(c, host, 0, http.StatusBadRequest, "only http:// URLs are forwarded; https goes through CONNECT")
		return false
	}
	if port == "" {
		port = "80"
	}
	pn, _ := strconv.Atoi(port)
	// The Host header must name the URL's host: a server picks its site
	// by it, and a mismatch would reach a site the allowlist never saw.
	if hh := hostHdr; hh != "" && !sameHost(hh, u.Host, port) {
		p.refuse(c, host, pn, http.StatusForbidden, fmt.Sprintf("the Host header %q does not match the URL's host %q", hh, u.Host))
		return false
	}
	if req.Header.Get("Upgrade") != "" {
		p.refuse(c, host, pn, http.StatusForbidden, "protocol upgrades through the plain-HTTP proxy are not supported; use CONNECT")
		return false
	}
	d := p.decide(host, port)
	if d.reason != "" {
		p.refuse(c, d.host, pn, d.status, d.reason)
		return false
	}
	if !p.connection() {
		p.refuse(c, d.host, pn, http.StatusTooManyRequests, "the run's connection limit is reached")
		return false
	}
	upc, addr, err := p.dial(d)
	if err != nil {
		p.refuse(c, d.host, pn, http.StatusBadGateway, "cannot connect: "+errText(err))
		return false
	}
	if !p.track(upc) {
		return false
	}
	defer p.untrack(upc)
	p.record(d.host, pn, true, "", addr.String())
	key := &destKey{d.host, pn, true, ""}
	out := req.Clone(req.Context())
	out.RequestURI = ""
	out.Host = u.Host
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	for _, h := range strings.Split(req.Header.Get("Connection"), ",") {
		if h = strings.TrimSpace(h); h != "" {
			out.Header.Del(h)
		}
	}
	out.Close = true // one upstream connection per request: each is checked
	if err := out.Write(&meter{p: p, dir: up, dest: key, w: upc}); err != nil {
		return false
	}
	resp, err := http.ReadResponse(bufio.NewReader(upc), out)
	if err != nil {
		p.refuse(c, "", 0, http.StatusBadGateway, "the server's answer is not HTTP: "+errText(err))
		return false
	}
	defer resp.Body.Close()
	keep := !req.Close && req.ProtoAtLeast(1, 1)
	if resp.ContentLength < 0 && !(len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked") {
		keep = false // the body ends when the connection does
	}
	resp.Close = !keep
	for _, h := range hopHeaders {
		resp.Header.Del(h)
	}
	if err := resp.Write(&meter{p: p, dir: down, dest: key, w: c}); err != nil {
		return false
	}
	return keep
}

// sameHost compares a Host header with the URL's host, default ports
// included ("a.org" and "a.org:80" are the same for http).
func sameHost(header, urlHost, port string) bool {
	norm := func(h string) string {
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), port)
		}
		hh, pp, _ := net.SplitHostPort(h)
		return net.JoinHostPort(strings.TrimSuffix(hh, "."), pp)
	}
	return norm(header) == norm(urlHost)
}

func errText(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}
