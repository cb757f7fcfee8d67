// Package sessionroute lets the replicas of a fleet behind one Service
// share sessions. A session lives in one replica (its interpreter is that
// replica's pod or process); the Service sends each request to any
// replica. So a session's id names its replica: the replica's address,
// signed with a key the replicas share, before the random part. A replica
// that gets a request for a session another one holds forwards it there,
// as it came (the peer authenticates the caller again and checks that the
// session is theirs); its own sessions it serves itself.
//
// The signature keeps the forwarding to the fleet: an id whose route was
// not made with the key is served locally (and is not found), so a caller
// cannot have a replica send requests to an address of their choosing.
package sessionroute

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
)

// ForwardedHeader marks a forwarded request; a replica never forwards one
// again (no loops when a route's replica is gone and its address reused).
const ForwardedHeader = "X-Sandrun-Forwarded-By"

// Router mints session id prefixes for this replica and forwards requests
// for other replicas' sessions.
type Router struct {
	self   string
	key    []byte
	prefix string
}

// New returns the router of the replica reachable by its peers at self
// ("host:port"), with the fleet's shared key (at least 16 bytes).
func New(self string, key []byte) (*Router, error) {
	if _, _, err := net.SplitHostPort(self); err != nil {
		return nil, fmt.Errorf("session route %q: want host:port: %w", self, err)
	}
	if len(key) < 16 {
		return nil, errors.New("session route key: at least 16 bytes")
	}
	r := &Router{self: self, key: append([]byte(nil), key...)}
	r.prefix = "r" + hex.EncodeToString([]byte(self)) + "-" + r.sign(self) + "-"
	return r, nil
}

func (r *Router) sign(addr string) string {
	m := hmac.New(sha256.New, r.key)
	m.Write([]byte(addr))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// Prefix starts the ids of the sessions this replica creates
// (session.Options.IDPrefix).
func (r *Router) Prefix() string { return r.prefix }

// Owner returns the address of the replica an id's route names, and
// whether the route is one the fleet made.
func (r *Router) Owner(id string) (string, bool) {
	rest, ok := strings.CutPrefix(id, "r")
	if !ok {
		return "", false
	}
	parts := strings.SplitN(rest, "-", 3)
	if len(parts) != 3 {
		return "", false
	}
	addr, err := hex.DecodeString(parts[0])
	if err != nil || !hmac.Equal([]byte(parts[1]), []byte(r.sign(string(addr)))) {
		return "", false
	}
	return string(addr), true
}

// Wrap serves requests for this replica's sessions (and those without a
// session id in the path) with h, and forwards the others to the replica
// that holds them. h's pattern names the id {id}.
func (r *Router) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		addr, ok := r.Owner(req.PathValue("id"))
		if !ok || addr == r.self {
			h.ServeHTTP(w, req)
			return
		}
		if by := req.Header.Get(ForwardedHeader); by != "" {
			// Forwarded once already: the replica the route names is
			// not the one that answers at its address any more.
			http.Error(w, `{"error":"no such session (its replica is gone)","code":"not_found"}`, http.StatusNotFound)
			return
		}
		p := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(&url.URL{Scheme: "http", Host: addr})
				pr.Out.Host = pr.In.Host
				pr.Out.Header.Set(ForwardedHeader, r.self)
			},
			// Streamed step output goes through as it comes.
			FlushInterval: -1,
			ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadGateway)
				fmt.Fprintf(w, `{"error":%q,"code":"replica_unreachable"}`, "the replica holding this session does not answer: "+err.Error())
			},
		}
		p.ServeHTTP(w, req)
	})
}
