package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/server"
	"github.com/sandrun/sandrun/session"
)

func TestRunOK(t *testing.T) {
	e := newEnv(t, nil)
	r := e.post(t, "/v1/runs", `{"language":"python","code":"import sys\nprint('hi')\nprint('err', file=sys.stderr)\nsys.exit(3)"}`)
	if r.code != 200 {
		t.Fatalf("code %d: %s", r.code, r.body)
	}
	var res sandrun.Result
	r.json(t, &res)
	if res.Status != sandrun.StatusExitError || res.ExitCode != 3 || res.Stdout != "hi\n" || res.Stderr != "err\n" || res.Backend != "process" || res.ID == "" {
		t.Fatalf("unexpected result %+v", res)
	}
}

func TestRunBadInput(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.MaxBodyBytes = 1 << 20; o.MaxCodeBytes = 1000 })
	big := strings.Repeat("x", 2<<20)
	cases := []struct {
		name, body string
		code       int
		field      string
	}{
		{"not json", `{"language":`, 400, "body"},
		{"syntax", `{"language" "python"}`, 400, "body"},
		{"empty", ``, 400, "body"},
		{"unknown field", `{"language":"python","code":"print(1)","bogus":1}`, 400, "bogus"},
		{"wrong type", `{"language":5,"code":"print(1)"}`, 400, "language"},
		{"nested wrong type", `{"language":"python","code":"print(1)","limits":{"processes":"many"}}`, 400, "limits.processes"},
		{"bad duration", `{"language":"python","code":"print(1)","limits":{"wall_time":"soon"}}`, 400, "limits.wall_time"},
		{"bad size", `{"language":"python","code":"print(1)","limits":{"memory":"lots"}}`, 400, "limits.memory"},
		{"trailing data", `{"language":"python","code":"print(1)"} {}`, 400, "body"},
		{"huge body", `{"language":"python","code":"` + big + `"}`, 413, "body"},
		{"code over server cap", `{"language":"python","code":"` + strings.Repeat("#", 2000) + `"}`, 413, "code"},
		{"empty code", `{"language":"python","code":"  "}`, 400, "code"},
		{"unknown language", `{"language":"cobol","code":"x"}`, 400, "language"},
		{"unknown backend", `{"language":"python","code":"print(1)","backend":"vm"}`, 400, "backend"},
		{"limit out of range", `{"language":"python","code":"print(1)","limits":{"memory":1}}`, 400, "limits.memory"},
		{"wall time over server max", `{"language":"python","code":"print(1)","limits":{"wall_time":"1h"}}`, 400, "limits.wall_time"},
		{"bad file name", `{"language":"python","code":"print(1)","files":[{"name":"../x","content":""}]}`, 400, "files[0].name"},
		// Issue 12 item 8: these answered 500 or were changed silently.
		{"file and its directory", `{"language":"python","code":"print(1)","files":[{"name":"a","content":""},{"name":"a/b","content":""}]}`, 400, "files[1].name"},
		{"file named like the code", `{"language":"python","code":"print(1)","files":[{"name":"main.py","content":"import os"}]}`, 400, "files[0].name"},
		{"open_files 0 is the default, -1 is refused", `{"language":"python","code":"print(1)","limits":{"open_files":-1}}`, 400, "limits.open_files"},
		// encoding/json keeps the last of two members and matches fields
		// without regard to case: a gateway that reads the first (or the
		// exact spelling) saw another request than the one that ran.
		{"a member twice", `{"language":"python","code":"print(1)","backend":"jail","backend":"process"}`, 400, "backend"},
		{"a member twice in another case", `{"language":"python","code":"print(1)","backend":"jail","Backend":"process"}`, 400, "Backend"},
		{"a nested member twice", `{"language":"python","code":"print(1)","limits":{"memory":"64MiB","Memory":"1GiB"}}`, 400, "limits.Memory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.post(t, "/v1/runs", c.body)
			var eb server.ErrorBody
			r.json(t, &eb)
			if r.code != c.code || eb.Field != c.field || eb.Error == "" {
				t.Fatalf("got %d %+v, want %d field %q", r.code, eb, c.code, c.field)
			}
		})
	}
	r := e.do(t, "POST", "/v1/runs", "", strings.NewReader(`{}`), "Content-Type", "text/plain")
	if r.code != 415 {
		t.Fatalf("text/plain body: got %d", r.code)
	}
}

type fakeStore map[string]*sandrun.Result

func (f fakeStore) Get(_ context.Context, id string) (*sandrun.Result, error) {
	if r, ok := f[id]; ok {
		return r, nil
	}
	return nil, server.ErrNotFound
}

func TestGetRun(t *testing.T) {
	e := newEnv(t, nil)
	if r := e.do(t, "GET", "/v1/runs/abc", "", nil); r.code != 501 {
		t.Fatalf("no store: got %d %s", r.code, r.body)
	}
	e = newEnv(t, func(o *server.Options) {
		o.Runs = fakeStore{"abc": {ID: "abc", Status: sandrun.StatusOK}}
	})
	r := e.do(t, "GET", "/v1/runs/abc", "", nil)
	var res sandrun.Result
	r.json(t, &res)
	if r.code != 200 || res.ID != "abc" {
		t.Fatalf("got %d %s", r.code, r.body)
	}
	if r := e.do(t, "GET", "/v1/runs/nope", "", nil); r.code != 404 {
		t.Fatalf("unknown id: got %d", r.code)
	}
}

func TestProbesLanguagesMetrics(t *testing.T) {
	e := newEnv(t, nil)
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := e.do(t, "GET", p, "", nil); r.code != 200 {
			t.Fatalf("%s: %d %s", p, r.code, r.body)
		}
	}
	r := e.do(t, "GET", "/v1/languages", "", nil)
	var lb server.LanguagesBody
	r.json(t, &lb)
	found := false
	for _, l := range lb.Languages {
		if l.Name == "python" && len(l.Backends) == 1 && l.Backends[0] == "process" && l.Version != "" {
			found = true
		}
		for _, a := range l.Aliases {
			if sandrun.NormalizeLanguage(a) != l.Name {
				t.Errorf("alias %q of %s normalizes to %q", a, l.Name, sandrun.NormalizeLanguage(a))
			}
		}
	}
	if !found {
		t.Fatalf("python/process not listed: %s", r.body)
	}
	e.post(t, "/v1/runs", `{"language":"python","code":"print(1)"}`)
	m := e.do(t, "GET", "/metrics", "", nil)
	for _, want := range []string{
		`sandrun_runs_total{backend="process",status="ok"} 1`,
		`sandrun_run_duration_seconds_count{backend="process"} 1`,
		`sandrun_runs_in_flight 0`,
		`sandrun_queue_depth 0`,
		`sandrun_http_requests_total{code="200",route="POST /v1/runs"} 1`,
	} {
		if !strings.Contains(string(m.body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if r := e.do(t, "GET", "/nowhere", "", nil); r.code != 404 {
		t.Fatalf("unknown route: %d", r.code)
	}
	if r := e.do(t, "GET", "/v1/languages", "", nil, "Host", "evil.example:8770"); r.code != 403 {
		t.Fatalf("DNS-rebinding Host accepted without auth: %d", r.code)
	}
	if r := e.do(t, "DELETE", "/v1/runs", "", nil); r.code != 405 {
		t.Fatalf("wrong method: %d", r.code)
	}
}

func tokenAuth(t testing.TB, secret string) *server.Auth {
	a := &server.Auth{}
	if err := a.ReadTokens(strings.NewReader("# test\nci "+server.HashToken(secret)+"\n"), "test"); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAuth(t *testing.T) {
	const secret = "sr_test-secret-0123456789abcdef"
	e := newEnv(t, func(o *server.Options) { o.Auth = tokenAuth(t, secret) })
	body := `{"language":"python","code":"print('SECRET_CODE_MARKER')"}`
	for _, c := range []struct {
		name, token string
		hdr         []string
		code        int
	}{
		{"missing", "", nil, 401},
		{"wrong", "sr_wrong-secret-0123456789abcdef", nil, 401},
		{"prefix", secret[:10], nil, 401},
		{"basic scheme", "", []string{"Authorization", "Basic " + secret}, 401},
		{"right", secret, nil, 200},
	} {
		r := e.do(t, "POST", "/v1/runs", c.token, strings.NewReader(body), c.hdr...)
		if r.code != c.code {
			t.Errorf("%s: got %d %s", c.name, r.code, r.body)
		}
		if c.code == 401 && r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: no WWW-Authenticate", c.name)
		}
	}
	for _, p := range []string{"/v1/languages", "/metrics", "/api/v2/runtimes", "/v1/runs/x"} {
		if r := e.do(t, "GET", p, "", nil); r.code != 401 {
			t.Errorf("%s without a token: %d", p, r.code)
		}
	}
	for _, p := range []string{"/healthz", "/readyz", "/openapi.json"} {
		if r := e.do(t, "GET", p, "", nil); r.code != 200 {
			t.Errorf("%s is public but got %d", p, r.code)
		}
	}
	// The logs name the caller, never the code, its output or the token.
	logs := e.logs.String()
	if !strings.Contains(logs, `"caller":"ci"`) {
		t.Errorf("access log does not name the caller:\n%s", logs)
	}
	for _, bad := range []string{secret, "SECRET_CODE_MARKER", server.HashToken(secret)} {
		if strings.Contains(logs, bad) {
			t.Errorf("logs contain %q:\n%s", bad, logs)
		}
	}
}

func TestCheckAddr(t *testing.T) {
	on := tokenAuth(t, "sr_test-secret-0123456789abcdef")
	for _, c := range []struct {
		addr string
		auth *server.Auth
		ok   bool
	}{
		{"127.0.0.1:8770", nil, true},
		{"[::1]:8770", nil, true},
		{"localhost:8770", nil, true},
		{"0.0.0.0:8770", nil, false},
		{":8770", nil, false},
		{"192.0.2.1:8770", nil, false},
		{"0.0.0.0:8770", on, true},
		{"nonsense", on, false},
	} {
		err := server.CheckAddr(c.addr, c.auth)
		if (err == nil) != c.ok {
			t.Errorf("CheckAddr(%q, auth=%v) = %v", c.addr, c.auth.Enabled(), err)
		}
	}
}

func TestTokenFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "tokens")
	secret := server.NewToken()
	if err := os.WriteFile(p, []byte("alice "+server.HashToken(secret)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &server.Auth{}
	if err := a.LoadTokenFile(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable token file accepted: %v", err)
	}
	_ = os.Chmod(p, 0o600)
	if err := a.LoadTokenFile(p); err != nil || !a.Enabled() {
		t.Fatal(err)
	}
	for _, bad := range []string{"alice", "alice plain", "alice sha256:zz", "alice sha256:abcd"} {
		if err := (&server.Auth{}).ReadTokens(strings.NewReader(bad), "x"); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if err := (&server.Auth{}).AddSecret("short", "abc"); err == nil {
		t.Error("accepted a 3-character token")
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.RatePerToken = 0.2; o.RateBurst = 1 })
	body := `{"language":"python","code":"print(1)"}`
	if r := e.post(t, "/v1/runs", body); r.code != 200 {
		t.Fatalf("first: %d", r.code)
	}
	r := e.post(t, "/v1/runs", body)
	if r.code != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("second: %d, Retry-After %q", r.code, r.header.Get("Retry-After"))
	}
}

// Rate limits are per token: one caller spending its budget does not
// cost another.
func TestRateLimitPerToken(t *testing.T) {
	a := &server.Auth{}
	if err := a.AddSecret("alice", "sr_alice-secret-0123456789"); err != nil {
		t.Fatal(err)
	}
	if err := a.AddSecret("bob", "sr_bob-secret-0123456789ab"); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *server.Options) { o.Auth = a; o.RatePerToken = 0.1; o.RateBurst = 1 })
	body := `{"language":"bash","code":"echo 1"}`
	run := func(tok string) int {
		return e.do(t, "POST", "/v1/runs", tok, strings.NewReader(body)).code
	}
	if c := run("sr_alice-secret-0123456789"); c != 200 {
		t.Fatalf("alice first: %d", c)
	}
	if c := run("sr_alice-secret-0123456789"); c != 429 {
		t.Fatalf("alice second: %d", c)
	}
	if c := run("sr_bob-secret-0123456789ab"); c != 200 {
		t.Fatalf("bob was limited by alice's use: %d", c)
	}
}

// A browser page on another origin cannot make a visitor's browser post
// runs to a loopback server (CSRF).
func TestCrossOriginRefused(t *testing.T) {
	e := newEnv(t, nil)
	body := `{"language":"bash","code":"echo 1"}`
	if r := e.do(t, "POST", "/v1/runs", "", strings.NewReader(body), "Sec-Fetch-Site", "cross-site"); r.code != 403 {
		t.Fatalf("cross-site post: %d", r.code)
	}
	if r := e.do(t, "POST", "/api/v2/execute", "", strings.NewReader(body), "Origin", "https://evil.example", "Content-Type", "text/plain"); r.code != 403 {
		t.Fatalf("cross-origin Piston post: %d", r.code)
	}
}

func TestQueueFull(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.MaxConcurrent = 1; o.MaxQueue = 1 })
	slow := `{"language":"bash","code":"sleep 2"}`
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ { // one runs, one waits
		wg.Add(1)
		go func() { defer wg.Done(); e.post(t, "/v1/runs", slow) }()
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(string(e.do(t, "GET", "/metrics", "", nil).body), "sandrun_queue_depth 1") {
		if time.Now().After(deadline) {
			t.Fatal("the queue never filled")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := e.post(t, "/v1/runs", `{"language":"python","code":"print(1)"}`)
	if r.code != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("third: %d %s", r.code, r.body)
	}
	wg.Wait()
	if r := e.post(t, "/v1/runs", `{"language":"python","code":"print(1)"}`); r.code != 200 {
		t.Fatalf("after the queue drained: %d", r.code)
	}
}

type sseEvent struct {
	name string
	data string
	at   time.Time
}

func readSSE(t *testing.T, resp *http.Response) []sseEvent {
	t.Helper()
	var out []sseEvent
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var cur sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data = strings.TrimPrefix(line, "data: ")
		case line == "":
			cur.at = time.Now()
			out = append(out, cur)
			cur = sseEvent{}
		}
	}
	return out
}

func TestStream(t *testing.T) {
	e := newEnv(t, nil)
	code := "import sys, time\nprint('one SECRET', flush=True)\ntime.sleep(0.4)\nprint('two', file=sys.stderr, flush=True)\ntime.sleep(0.4)\nprint('three')"
	body, _ := json.Marshal(map[string]string{"language": "python", "code": code})
	req, _ := http.NewRequest("POST", e.url+"/v1/runs", strings.NewReader(string(body)))
	req.Header.Set("Accept", "text/event-stream")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	// Unbuffered Python writes a line and its newline separately: merge
	// neighbouring chunks of one stream.
	var evs []sseEvent
	for _, ev := range readSSE(t, resp) {
		if n := len(evs); n > 0 && evs[n-1].name == ev.name && ev.name != "result" {
			var a, b server.ChunkEvent
			_ = json.Unmarshal([]byte(evs[n-1].data), &a)
			_ = json.Unmarshal([]byte(ev.data), &b)
			d, _ := json.Marshal(server.ChunkEvent{Text: a.Text + b.Text})
			evs[n-1].data = string(d)
			continue
		}
		evs = append(evs, ev)
	}
	var names []string
	for _, ev := range evs {
		names = append(names, ev.name)
	}
	if got := strings.Join(names, ","); got != "stdout,stderr,stdout,result" {
		t.Fatalf("events %s", got)
	}
	var first server.ChunkEvent
	_ = json.Unmarshal([]byte(evs[0].data), &first)
	if first.Text != "one [REDACTED]\n" {
		t.Fatalf("first chunk %q did not pass through the filter", first.Text)
	}
	// The first chunk came as it was written, long before the end.
	if evs[0].at.Sub(start) > evs[3].at.Sub(start)-500*time.Millisecond {
		t.Fatalf("first chunk at %v, result at %v: not streamed", evs[0].at.Sub(start), evs[3].at.Sub(start))
	}
	var res sandrun.Result
	if err := json.Unmarshal([]byte(evs[3].data), &res); err != nil || res.Status != sandrun.StatusOK || res.Stdout != "one SECRET\nthree\n" {
		t.Fatalf("result %+v %v", res, err)
	}
}

func TestStreamFailsClosed(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.NewStream = nil })
	r := e.do(t, "POST", "/v1/runs", "", strings.NewReader(`{"language":"python","code":"print('x')"}`), "Accept", "text/event-stream")
	if r.code != 501 {
		t.Fatalf("streaming without a filter: %d %s", r.code, r.body)
	}
	r = e.do(t, "POST", "/v1/runs", "", strings.NewReader(`{"language":"python","code":"print('x')","no_sanitize":true}`), "Accept", "text/event-stream")
	if r.code != 200 || !strings.Contains(string(r.body), "event: stdout\ndata: {\"text\":\"x") {
		t.Fatalf("raw stream: %d %s", r.code, r.body)
	}
	// A request refused before running gets a plain error, not a stream.
	r = e.do(t, "POST", "/v1/runs", "", strings.NewReader(`{"language":"cobol","code":"x","no_sanitize":true}`), "Accept", "text/event-stream")
	if r.code != 400 || !strings.Contains(r.header.Get("Content-Type"), "json") {
		t.Fatalf("refused stream: %d %s", r.code, r.body)
	}
}

// fakeSanitizer redacts the word SECRET and reports it, standing in for
// package sanitize.
type fakeSanitizer struct{}

func (fakeSanitizer) SanitizeResult(r *sandrun.Result) {
	if n := strings.Count(r.Stdout, "SECRET"); n > 0 {
		r.Stdout = strings.ReplaceAll(r.Stdout, "SECRET", "[REDACTED]")
		r.Detections = append(r.Detections, sandrun.Detection{Rule: "test-rule", Stream: "stdout", Count: n})
	}
	r.Sanitized = true
}

func TestDetectionMetrics(t *testing.T) {
	logs := &syncBuffer{}
	_, langs := newSandbox(t, logs)
	e := newEnv(t, func(o *server.Options) {
		sb, err := sandrun.New(sandrun.Options{Backends: o.Sandbox.Backends(), Sanitizer: fakeSanitizer{}})
		if err != nil {
			t.Fatal(err)
		}
		o.Sandbox, o.Languages = sb, langs
	})
	r := e.post(t, "/v1/runs", `{"language":"bash","code":"echo SECRET SECRET"}`)
	var res sandrun.Result
	r.json(t, &res)
	if res.Stdout != "[REDACTED] [REDACTED]\n" || !res.Sanitized {
		t.Fatalf("%+v", res)
	}
	m := string(e.do(t, "GET", "/metrics", "", nil).body)
	if !strings.Contains(m, `sandrun_sanitizer_detections_total{rule="test-rule"} 2`) {
		t.Errorf("detections not counted")
	}
	if strings.Contains(e.logs.String(), "SECRET") {
		t.Errorf("logs hold the secret")
	}
}

// Issue 14: one error body on every route: unknown paths (under
// /v1/sessions too), wrong methods, the CSRF refusal, session errors.
func TestOneErrorBody(t *testing.T) {
	e := newEnv(t, withSessions(t))
	for _, c := range []struct {
		method, path, body string
		hdr                []string
		code               int
		errCode            string
	}{
		{"GET", "/v1/sessions/abc/nothing", "", nil, 404, "not_found"},
		{"GET", "/nowhere", "", nil, 404, "not_found"},
		{"PUT", "/v1/sessions", "", nil, 405, "method_not_allowed"},
		{"POST", "/v1/sessions/abc", `{}`, nil, 405, "method_not_allowed"},
		{"GET", "/v1/sessions/abc", "", nil, 404, "not_found"},
		{"POST", "/v1/sessions", `{"language":"python","bogus":1}`, nil, 400, "bad_request"},
		{"POST", "/v1/runs", `{"language":"bash","code":"echo 1"}`, []string{"Sec-Fetch-Site", "cross-site"}, 403, "forbidden"},
		{"POST", "/v1/sessions", `{"language":"python"}`, []string{"Origin", "https://evil.example"}, 403, "forbidden"},
	} {
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		r := e.do(t, c.method, c.path, "", body, c.hdr...)
		var eb server.ErrorBody
		if r.code != c.code || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") ||
			json.Unmarshal(r.body, &eb) != nil || eb.Error == "" || eb.Code != c.errCode {
			t.Errorf("%s %s: %d %q %s; want %d with code %s", c.method, c.path, r.code, r.header.Get("Content-Type"), r.body, c.code, c.errCode)
		}
	}
}

// Issue 12 item 8: invalid UTF-8 (raw bytes, or an escaped lone
// surrogate) in a JSON string is refused naming the field, not replaced
// by U+FFFD.
func TestInvalidUTF8Refused(t *testing.T) {
	e := newEnv(t, withSessions(t))
	for _, c := range []struct{ body, field string }{
		{"{\"language\":\"python\",\"code\":\"print('\xff')\"}", "code"},
		{`{"language":"python","code":"print(1)","stdin":"a\ud800b"}`, "stdin"},
		{"{\"language\":\"python\",\"code\":\"print(1)\",\"args\":[\"ok\",\"\xc3\x28\"]}", "args[1]"},
		{"{\"language\":\"python\",\"code\":\"print(1)\",\"env\":{\"X\":\"\xe2\x82\"}}", "env.X"},
		{"{\"language\":\"python\",\"code\":\"print(1)\",\"files\":[{\"name\":\"a\",\"content\":\"\"},{\"name\":\"b\xfe\",\"content\":\"\"}]}", "files[1].name"},
		{`{"language":"python","code":"print(1)","stdin":"\udc00\ud800"}`, "stdin"},
	} {
		r := e.post(t, "/v1/runs", c.body)
		var eb server.ErrorBody
		if r.code != 400 || json.Unmarshal(r.body, &eb) != nil || eb.Field != c.field {
			t.Errorf("%q: %d %s; want 400 naming %s", c.body, r.code, r.body, c.field)
		}
	}
	// A valid surrogate pair and plain non-ASCII text pass.
	r := e.post(t, "/v1/runs", `{"language":"python","code":"print('\ud83d\ude00 é')"}`)
	var res sandrun.Result
	if r.json(t, &res); r.code != 200 || res.Stdout != "😀 é\n" {
		t.Fatalf("valid UTF-8: %d %s", r.code, r.body)
	}
	// Session steps decode the same way.
	r = e.post(t, "/v1/sessions", `{"language":"python"}`)
	var in session.Info
	r.json(t, &in)
	r = e.post(t, "/v1/sessions/"+in.ID+"/run", "{\"code\":\"print('\xff')\"}")
	var eb server.ErrorBody
	if r.code != 400 || json.Unmarshal(r.body, &eb) != nil || eb.Field != "code" {
		t.Fatalf("session step: %d %s", r.code, r.body)
	}
}

type failingAudit struct {
	mu   sync.Mutex
	n    int64
	at   time.Time
	last error
}

func (f *failingAudit) Errors() int64 { f.mu.Lock(); defer f.mu.Unlock(); return f.n }
func (f *failingAudit) LastError() (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.at, f.last
}

func (f *failingAudit) set(n int64, at time.Time, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n, f.at, f.last = n, at, err
}

// Issue 12 item 7: audit failures show in /metrics and turn /readyz to a
// warning (degraded, still 200: runs go on).
func TestAuditFailuresShow(t *testing.T) {
	a := &failingAudit{}
	e := newEnv(t, func(o *server.Options) { o.Audit = a })
	var p server.Probe
	r := e.do(t, "GET", "/readyz", "", nil)
	if r.json(t, &p); r.code != 200 || p.Status != "ready" || len(p.Warnings) != 0 {
		t.Fatalf("healthy: %d %s", r.code, r.body)
	}
	a.set(3, time.Now(), errors.New("disk I/O error"))
	if m := string(e.do(t, "GET", "/metrics", "", nil).body); !strings.Contains(m, "sandrun_audit_errors_total 3") {
		t.Fatalf("metrics lack the audit errors:\n%s", m)
	}
	r = e.do(t, "GET", "/readyz", "", nil)
	p = server.Probe{}
	if r.json(t, &p); r.code != 200 || p.Status != "degraded" || len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "disk I/O error") {
		t.Fatalf("failing audit: %d %s", r.code, r.body)
	}
	a.set(3, time.Now().Add(-time.Hour), errors.New("disk I/O error")) // an old failure no longer degrades
	if r := e.do(t, "GET", "/readyz", "", nil); !strings.Contains(string(r.body), `"ready"`) {
		t.Fatalf("old failure: %s", r.body)
	}
}

// Issue 12 item 4: a request above what the host gives each of its
// concurrent runs (memory divided among them) gets 400 naming the cap;
// at the cap it runs.
func TestHostCaps(t *testing.T) {
	pol := sandrun.HostPolicy(2, "")
	e := newEnv(t, func(o *server.Options) {
		proc := o.Sandbox.Backends()
		sb, err := sandrun.New(sandrun.Options{Backends: proc, Policy: pol})
		if err != nil {
			t.Fatal(err)
		}
		o.Sandbox, o.MaxConcurrent = sb, 2
	})
	over := pol.Caps.Memory + 1<<20
	r := e.post(t, "/v1/runs", fmt.Sprintf(`{"language":"python","code":"print(1)","limits":{"memory":%d}}`, over))
	var eb server.ErrorBody
	if r.code != 400 || json.Unmarshal(r.body, &eb) != nil || eb.Field != "limits.memory" ||
		!strings.Contains(eb.Error, "above the cap of "+pol.Caps.Memory.String()) || !strings.Contains(eb.Error, "2 runs at a time") {
		t.Fatalf("memory over the cap: %d %s", r.code, r.body)
	}
	for _, l := range []string{
		fmt.Sprintf(`"open_files":%d`, pol.Caps.OpenFiles+1),
		fmt.Sprintf(`"output":%d`, pol.Caps.Output+1),
		fmt.Sprintf(`"work_dir":%d`, pol.Caps.WorkDir+1<<20),
	} {
		if r := e.post(t, "/v1/runs", `{"language":"python","code":"print(1)","limits":{`+l+`}}`); r.code != 400 {
			t.Errorf("%s: %d %s", l, r.code, r.body)
		}
	}
	at := fmt.Sprintf(`{"language":"python","code":"print(1)","limits":{"memory":%d,"open_files":%d,"output":%d}}`,
		pol.Caps.Memory, pol.Caps.OpenFiles, pol.Caps.Output)
	var res sandrun.Result
	r = e.post(t, "/v1/runs", at)
	if r.json(t, &res); r.code != 200 || res.Status != sandrun.StatusOK {
		t.Fatalf("at the caps: %d %s", r.code, r.body)
	}
}
