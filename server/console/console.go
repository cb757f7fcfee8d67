// Package console is sandrun's web console: a page served by `sandrun
// serve` at / with a playground (run code, output streamed as it comes,
// verdict, usage, redactions, collected files), the run history from the
// audit log with filters and a detail view, live sessions and the
// server's health.
//
// The page is plain HTML, CSS and JavaScript modules embedded in the
// binary (static/): no build step, no framework, no npm package at run
// time. It talks to the same JSON API as any client (/v1/..., /readyz),
// so it has the API's auth, origin and CSRF rules: with tokens, the page
// asks for one and sends it as a bearer header (kept in sessionStorage,
// never in a URL); it renders every byte of program output, file names
// and error text as text (no innerHTML), and a Content-Security-Policy
// allows only its own scripts, so output cannot run in the page.
package console

import (
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/sandrun/sandrun/server"
)

//go:embed static
var static embed.FS

// Options configure the console's routes.
type Options struct {
	// Public serves the page without the API's auth check. Set it when
	// the server has tokens: a browser cannot send a bearer header on a
	// navigation, the page holds no data, and it asks for a token before
	// it calls the API. Without tokens leave it false, so the page, like
	// the API, answers only requests addressed to a loopback name (DNS
	// rebinding).
	Public bool
}

// CSP allows the page's own scripts, styles and API calls only: no inline
// script or style, no other origin, no framing, blob: for downloads.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Routes are the console's routes, for server.Options.Routes: the page at
// "/" and its assets under /console/.
func Routes(o Options) []server.Route {
	files, _ := fs.Sub(static, "static")
	h := handler{files: files}
	return []server.Route{
		{Pattern: "GET /{$}", Handler: http.HandlerFunc(h.index), Public: o.Public},
		{Pattern: "GET /console/{file}", Handler: http.HandlerFunc(h.asset), Public: o.Public},
	}
}

type handler struct{ files fs.FS }

func (h handler) index(w http.ResponseWriter, r *http.Request) {
	h.serve(w, "index.html")
}

func (h handler) asset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	// Only the page's own files: no directories, no dot files, no index.
	if name == "index.html" || strings.HasPrefix(name, ".") || strings.ContainsAny(name, `/\`) {
		notFound(w)
		return
	}
	h.serve(w, name)
}

func (h handler) serve(w http.ResponseWriter, name string) {
	b, err := fs.ReadFile(h.files, name)
	if err != nil {
		notFound(w)
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js":
		ct = "text/javascript; charset=utf-8" // the host's mime table may lack it
	case ".html":
		ct = "text/html; charset=utf-8"
	}
	hd := w.Header()
	setSecurityHeaders(hd)
	hd.Set("Content-Type", ct)
	// Revalidate each time: a new binary serves a new page at once.
	hd.Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

func notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte(`{"error":"no such console file"}` + "\n"))
}
