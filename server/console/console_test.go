package console_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/lang"
	"github.com/sandrun/sandrun/server"
	"github.com/sandrun/sandrun/server/console"
)

type noLangs struct{}

// refuse is a backend that can run nothing: these tests never run code.
type refuse struct{}

func (refuse) Name() string                        { return "refuse" }
func (refuse) Check(context.Context, string) error { return errors.New("runs nothing") }
func (refuse) Run(context.Context, *sandrun.Request) (*sandrun.Result, error) {
	return nil, errors.New("runs nothing")
}

func (noLangs) All(context.Context) ([]*lang.Language, map[string]error) { return nil, nil }

// newServer mounts the console on a real server (no backends: the page's
// routes and the API's auth are what is tested here; the browser test in
// cmd/sandrun runs code through it).
func newServer(t *testing.T, secret string) *httptest.Server {
	t.Helper()
	sb, err := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{refuse{}}})
	if err != nil {
		t.Fatal(err)
	}
	auth := &server.Auth{}
	if secret != "" {
		if err := auth.AddSecret("test", secret); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := server.New(server.Options{Sandbox: sb, Languages: noLangs{}, Auth: auth,
		Routes: console.Routes(console.Options{Public: auth.Enabled()})})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return hs
}

func get(t *testing.T, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestPageAndAssets: the page at /, its assets with their types and the
// security headers; nothing else is served from the embedded tree.
func TestPageAndAssets(t *testing.T) {
	hs := newServer(t, "")
	resp, body := get(t, hs.URL+"/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, `src="/console/app.js"`) {
		t.Fatalf("/: %d %s %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	for h, want := range map[string]string{
		"Content-Security-Policy": console.CSP, "X-Content-Type-Options": "nosniff",
		"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	if !strings.Contains(console.CSP, "script-src 'self'") || strings.Contains(console.CSP, "unsafe") {
		t.Errorf("the CSP allows more than the page's own scripts: %s", console.CSP)
	}
	for name, ct := range map[string]string{"app.js": "text/javascript", "console.css": "text/css", "favicon.svg": "image/svg+xml"} {
		resp, _ := get(t, hs.URL+"/console/"+name)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ct) || resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: %d %q", name, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	for _, p := range []string{"/console/index.html", "/console/.hidden", "/console/nope.js", "/console/%2e%2e%2fconsole.go",
		"/console/..%2fconsole.go", "/console/", "/index.html", "/console/static"} {
		if resp, _ := get(t, hs.URL+p); resp.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
	if resp, _ := get(t, hs.URL+"/nope"); resp.StatusCode != 404 {
		t.Errorf("/nope: %d", resp.StatusCode)
	}
}

// TestPageAuthRules: without tokens the page, like the API, answers only
// a loopback Host (DNS rebinding); with tokens the page is public (a
// browser cannot send a bearer header on a navigation) and the API still
// needs the token.
func TestPageAuthRules(t *testing.T) {
	hs := newServer(t, "")
	if resp, _ := get(t, hs.URL+"/", "Host", "attacker.example:80"); resp.StatusCode != 403 {
		t.Errorf("no tokens, foreign Host: %d, want 403", resp.StatusCode)
	}
	if resp, _ := get(t, hs.URL+"/console/app.js", "Host", "attacker.example:80"); resp.StatusCode != 403 {
		t.Errorf("no tokens, foreign Host, asset: %d, want 403", resp.StatusCode)
	}
	const secret = "console-test-secret-0123456789"
	hs = newServer(t, secret)
	if resp, _ := get(t, hs.URL+"/"); resp.StatusCode != 200 {
		t.Errorf("tokens, the page without one: %d, want 200", resp.StatusCode)
	}
	if resp, _ := get(t, hs.URL+"/v1/runs"); resp.StatusCode != 401 {
		t.Errorf("tokens, the API without one: %d, want 401", resp.StatusCode)
	}
	if resp, _ := get(t, hs.URL+"/v1/status", "Authorization", "Bearer "+secret); resp.StatusCode != 200 {
		t.Errorf("tokens, the API with one: %d, want 200", resp.StatusCode)
	}
	// A page elsewhere cannot make the browser post to the API.
	req, _ := http.NewRequest("POST", hs.URL+"/v1/runs", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://attacker.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("cross-site POST: %d, want 403", resp.StatusCode)
	}
}

// TestNoHTMLSinks: the page's scripts never turn strings into markup or
// code, so program output and file names can only ever be text. (The
// browser test checks the same with hostile output.)
func TestNoHTMLSinks(t *testing.T) {
	sinks := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setAttribute\(\s*['"]on|javascript:|srcdoc`)
	root, err := filepath.Abs("static")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = fs.WalkDir(os.DirFS(root), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (!strings.HasSuffix(p, ".js") && !strings.HasSuffix(p, ".html")) {
			return err
		}
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			return err
		}
		n++
		for i, line := range strings.Split(string(b), "\n") {
			if m := sinks.FindString(line); m != "" {
				t.Errorf("%s:%d uses %s: %s", p, i+1, m, strings.TrimSpace(line))
			}
		}
		if strings.HasSuffix(p, ".html") && regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]|\son[a-z]+=|style=`).Match(b) {
			t.Errorf("%s has inline script, style or event handlers (the CSP forbids them)", p)
		}
		return nil
	})
	if err != nil || n < 5 {
		t.Fatalf("scanned %d files: %v", n, err)
	}
}
