package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/analyze"
	"github.com/sandrun/sandrun/backend/process"
	"github.com/sandrun/sandrun/lang"
	"github.com/sandrun/sandrun/server"
	"github.com/sandrun/sandrun/session"
	"github.com/sandrun/sandrun/session/sessionhttp"
	"github.com/sandrun/sandrun/session/sessionmcp"
	"github.com/sandrun/sandrun/session/sessiontest"
)

// strict reports whether missing dependencies must fail the test.
func strict() bool { return os.Getenv("SANDRUN_TEST_STRICT") == "1" }

func skipOrFail(t testing.TB, format string, a ...any) {
	t.Helper()
	if strict() {
		t.Fatalf(format, a...)
	}
	t.Skipf(format, a...)
}

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testEnv struct {
	srv  *server.Server
	http *httptest.Server
	url  string
	logs *syncBuffer
	sb   *sandrun.Sandbox
}

// sharedLangs discovers the interpreters once for the whole test binary:
// probing them is the slow part of building a server.
var sharedLangs = sync.OnceValue(func() *lang.Registry {
	r := lang.NewRegistry(lang.Options{})
	r.All(context.Background())
	return r
})

// newSandbox builds a Sandbox on the process backend, logging to logs.
func newSandbox(t testing.TB, logs io.Writer) (*sandrun.Sandbox, *lang.Registry) {
	t.Helper()
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	langs := sharedLangs()
	for _, l := range []string{"python", "bash"} {
		if _, err := langs.Lookup(context.Background(), l); err != nil {
			skipOrFail(t, "%s is needed: %v", l, err)
		}
	}
	proc, err := process.New(process.Options{Languages: langs, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	// As `serve --max-wall 5m`: the Policy caps what a caller may ask.
	pol := sandrun.Policy{Caps: sandrun.Limits{WallTime: sandrun.Duration(5 * time.Minute)}, Source: "serve --max-wall"}
	sb, err := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{proc}, Logger: log, Policy: pol, Imports: analyze.ImportFinder{}})
	if err != nil {
		t.Fatal(err)
	}
	return sb, langs
}

// newEnv starts a server on loopback; edit adjusts the options.
func newEnv(t testing.TB, edit func(*server.Options)) *testEnv {
	t.Helper()
	logs := &syncBuffer{}
	sb, langs := newSandbox(t, logs)
	opts := server.Options{
		Sandbox:   sb,
		Languages: langs,
		Logger:    slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		NewStream: passStream,
	}
	if edit != nil {
		edit(&opts)
	}
	srv, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return &testEnv{srv: srv, http: hs, url: hs.URL, logs: logs, sb: sb}
}

// passStream stands in for the sanitizer's streaming filter: it passes
// chunks through, but marks them so a test can tell the filter ran.
func passStream(emit func(stream, text string)) server.StreamFilter {
	return &markFilter{emit: emit}
}

type markFilter struct {
	emit   func(stream, text string)
	closed bool
}

func (m *markFilter) Write(stream string, p []byte) {
	m.emit(stream, strings.ReplaceAll(string(p), "SECRET", "[REDACTED]"))
}
func (m *markFilter) Close() { m.closed = true }

type reply struct {
	code   int
	header http.Header
	body   []byte
}

func (r reply) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %q: %v", r.body, err)
	}
}

func (e *testEnv) do(t testing.TB, method, path, token string, body io.Reader, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{code: resp.StatusCode, header: resp.Header, body: b}
}

func (e *testEnv) post(t testing.TB, path, body string) reply {
	t.Helper()
	return e.do(t, "POST", path, "", strings.NewReader(body))
}

// withSessions mounts the session routes as `serve` does, on a manager
// that runs its steps through the server's Sandbox (the same admission).
func withSessions(t testing.TB) func(*server.Options) {
	return func(o *server.Options) {
		adm, err := server.NewAdmission(o.AdmissionOptions)
		if err != nil {
			t.Fatal(err)
		}
		o.Admission, o.Sandbox = adm, o.Sandbox.WithAdmission(adm)
		m, err := session.New(session.Options{Sandbox: o.Sandbox,
			Launchers: map[string]sandrun.Launcher{"process": sessiontest.Launcher(t, "process")}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Shutdown() })
		for _, r := range sessionhttp.Routes(m, sessionhttp.Options{Owner: func(r *http.Request) string { return server.Caller(r.Context()) }}) {
			o.Routes = append(o.Routes, server.Route{Pattern: r.Pattern, Handler: r.Handler})
		}
		o.MCPTools = func(ms *mcp.Server) { sessionmcp.Register(ms, m, server.Caller) }
	}
}
