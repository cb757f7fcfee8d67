package server

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
)

// Auth is the set of accepted bearer tokens. Only SHA-256 digests are
// kept: tokens are long random strings (NewToken makes 32 random bytes),
// so a fast hash is enough to make a leaked token file useless, and no
// slow password hash is needed. Presented tokens are hashed and compared
// with every stored digest in constant time.
type Auth struct {
	tokens []token
}

type token struct {
	name   string
	digest [sha256.Size]byte
}

// Enabled reports whether any token is configured. A nil Auth is off.
func (a *Auth) Enabled() bool { return a != nil && len(a.tokens) > 0 }

// AddSecret accepts a plain token under name (from the environment or a
// flag); only its digest is kept.
func (a *Auth) AddSecret(name, secret string) error {
	if len(secret) < 16 {
		return fmt.Errorf("token %q is shorter than 16 characters; use `sandrun token` to make one", name)
	}
	a.tokens = append(a.tokens, token{name: name, digest: sha256.Sum256([]byte(secret))})
	return nil
}

// HashToken returns the stored form of a secret: "sha256:<hex>".
func HashToken(secret string) string {
	d := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(d[:])
}

// NewToken makes a random secret (32 bytes, URL-safe base64).
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "sr_" + base64.RawURLEncoding.EncodeToString(b)
}

// LoadTokenFile reads a token file: one token per line as
// "NAME sha256:HEX"; blank lines and lines starting with # are skipped.
// The file must not be readable by group or others.
func (a *Auth) LoadTokenFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("token file %s: mode %v lets other users read it; chmod 600 it", path, fi.Mode().Perm())
	}
	return a.ReadTokens(f, path)
}

// ReadTokens parses token lines from r; src names the source in errors.
func (a *Auth) ReadTokens(r io.Reader, src string) error {
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 || !strings.HasPrefix(fields[1], "sha256:") {
			return fmt.Errorf("%s:%d: want \"NAME sha256:HEX\" (make one with `sandrun token`)", src, n)
		}
		raw, err := hex.DecodeString(strings.TrimPrefix(fields[1], "sha256:"))
		if err != nil || len(raw) != sha256.Size {
			return fmt.Errorf("%s:%d: the digest is not 64 hex digits", src, n)
		}
		var t token
		t.name = fields[0]
		copy(t.digest[:], raw)
		a.tokens = append(a.tokens, t)
	}
	return sc.Err()
}

// check returns the token's name, or false. It compares against every
// stored digest without stopping early, so the time taken does not say
// which token (or how much of one) matched.
func (a *Auth) check(presented string) (string, bool) {
	d := sha256.Sum256([]byte(presented))
	name, ok := "", 0
	for _, t := range a.tokens {
		if subtle.ConstantTimeCompare(d[:], t.digest[:]) == 1 {
			name, ok = t.name, 1
		}
	}
	return name, ok == 1
}

type callerKey struct{}

// Caller is who made the request: the token's name, or "anonymous" when
// authentication is off.
func Caller(ctx context.Context) string {
	if c, ok := ctx.Value(callerKey{}).(string); ok {
		return c
	}
	return "anonymous"
}

var errNoToken = errors.New("missing bearer token")

func bearer(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", errNoToken
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", errors.New("the Authorization header must be \"Bearer TOKEN\"")
	}
	return strings.TrimSpace(tok), nil
}

// authenticate checks the bearer token when auth is on and records the
// caller in the context. Without auth the caller is keyed by remote
// address for rate limiting.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller := "anonymous"
		if s.opts.Auth.Enabled() {
			tok, err := bearer(r)
			if err == nil {
				var ok bool
				if caller, ok = s.opts.Auth.check(tok); !ok {
					err = errors.New("invalid bearer token")
				}
			}
			if err != nil {
				s.metrics.rejected.WithLabelValues("unauthorized").Inc()
				w.Header().Set("WWW-Authenticate", `Bearer realm="sandrun"`)
				writeError(w, http.StatusUnauthorized, "", err.Error())
				return
			}
		} else {
			// Without tokens the server is loopback-only; a Host that is
			// not loopback means a browser was pointed here by DNS
			// rebinding, so the page's origin must not get to run code.
			if !loopbackHost(r.Host) {
				s.metrics.rejected.WithLabelValues("unauthorized").Inc()
				writeError(w, http.StatusForbidden, "", "Host "+r.Host+" is not a loopback name; without tokens this server only answers requests addressed to localhost")
				return
			}
			if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
				caller = "addr:" + host
			}
		}
		setLogCaller(r.Context(), caller)
		ctx := context.WithValue(r.Context(), callerKey{}, caller)
		if s.opts.WithCaller != nil {
			ctx = s.opts.WithCaller(ctx, caller)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	return isLoopback(host)
}
