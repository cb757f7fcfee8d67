package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sandrun/sandrun/server"
)

type pistonRun struct {
	Stdout, Stderr, Output string
	Code                   *int
	Signal, Message        *string
	Status                 *string
	WallTime               int64 `json:"wall_time"`
}

type pistonAnswer struct {
	Language, Version string
	Run               *pistonRun
	Message           string
}

func (a pistonAnswer) status() string {
	if a.Run == nil {
		return "no run: " + a.Message
	}
	if a.Run.Status == nil {
		return "null"
	}
	return *a.Run.Status
}

// TestPistonClient drives the Piston routes with the npm piston-client:
// as published (its execute posts text/plain, which Piston, and so
// sandrun, refuses with 415) and with its pending Content-Type fix
// (testdata/clients/piston_json.mjs), through which every execute rule
// is checked: the program is the first UTF-8 file, npm semver ranges,
// Piston's aliases, its limit checks and messages.
func TestPistonClient(t *testing.T) {
	e := newEnv(t, nil)
	var pub struct {
		Runtimes []server.PistonRuntime
		Execute  pistonAnswer
	}
	nodeClient(t, "testdata/clients", &pub, "piston_client.mjs", e.url, "published")
	py := false
	for _, r := range pub.Runtimes {
		if r.Language == "python" && r.Version != "" && len(r.Aliases) > 0 {
			py = true
		}
		if r.Language == "javascript" && (r.Runtime != "node" || !strings.Contains(strings.Join(r.Aliases, ","), "node-js")) {
			t.Errorf("javascript runtime %+v: want runtime node and Piston's aliases", r)
		}
	}
	if !py {
		t.Fatalf("runtimes lack python: %+v", pub.Runtimes)
	}
	if pub.Execute.Message != "requests must be of type application/json" || pub.Execute.Run != nil {
		t.Errorf("published client's text/plain execute: %+v (want Piston's 415 message)", pub.Execute)
	}

	var out struct {
		OK, RE, TO, OL, Stdin, Unknown, BinaryFirst, NoText pistonAnswer
		Negative, NotNumber, OverCap                        pistonAnswer
		Ranges, Aliases                                     map[string]string
	}
	nodeClient(t, "testdata/clients", &out, "--import", "./piston_json.mjs", "piston_client.mjs", e.url, "fixed")
	// piston-client sends args ["1","2","3"] by default.
	if out.OK.Language != "python" || out.OK.status() != "null" || out.OK.Run.Stdout != "hi ['1', '2', '3']\n" || out.OK.Run.Code == nil || *out.OK.Run.Code != 0 {
		t.Errorf("ok: %+v %+v", out.OK, out.OK.Run)
	}
	if out.RE.status() != "RE" || *out.RE.Run.Code != 3 || out.RE.Run.Message == nil {
		t.Errorf("RE: %+v", out.RE)
	}
	if out.TO.status() != "TO" || out.TO.Run.Signal == nil || *out.TO.Run.Signal != "SIGKILL" || out.TO.Run.Code != nil {
		t.Errorf("TO: %+v %+v", out.TO, out.TO.Run)
	}
	if out.OL.status() != "OL" || out.OL.Run.Signal == nil || *out.OL.Run.Signal != "SIGKILL" {
		t.Errorf("OL: %+v", out.OL)
	}
	// stdin "line" gets Piston's trailing newline, so `read` sees a line.
	if out.Stdin.status() != "null" || out.Stdin.Run.Stdout != "got line\nextra\n" {
		t.Errorf("stdin and files: %+v %+v", out.Stdin, out.Stdin.Run)
	}
	if out.Unknown.Message != "cobol-1.0 runtime is unknown" {
		t.Errorf("unknown runtime: %+v", out.Unknown)
	}
	if out.BinaryFirst.status() != "null" || out.BinaryFirst.Run.Stdout != "000102ff print hi\n" {
		t.Errorf("binary file first: %+v %+v", out.BinaryFirst, out.BinaryFirst.Run)
	}
	if out.NoText.Message != "files must include at least one utf8 encoded file" {
		t.Errorf("no utf8 file: %+v", out.NoText)
	}
	for v, want := range map[string]string{
		"^3.10.0": "ok\n", ">=3.0.0": "ok\n", "~3.11": "ok\n", "3.x": "ok\n", "3": "ok\n", "*": "ok\n", "x": "ok\n",
		"<3": "python-<3 runtime is unknown", "^2.7.0": "python-^2.7.0 runtime is unknown", ">=4": "python->=4 runtime is unknown",
	} {
		if out.Ranges[v] != want {
			t.Errorf("version %q: %q, want %q", v, out.Ranges[v], want)
		}
	}
	for a, want := range map[string]string{
		"node-js": "javascript ok\n", "node-javascript": "javascript ok\n", "js": "javascript ok\n",
		"py3": "python ok\n", "python3": "python ok\n", "sh": "bash ok\n",
	} {
		if got := out.Aliases[a]; got != want {
			t.Errorf("alias %q: %q, want %q", a, got, want)
		}
	}
	if out.Negative.Message != "run_timeout must be non-negative" {
		t.Errorf("negative run_timeout: %+v", out.Negative)
	}
	if out.NotNumber.Message != "If specified, run_timeout must be a number" {
		t.Errorf("run_timeout as a string: %+v", out.NotNumber)
	}
	if out.OverCap.Message != "run_timeout cannot exceed the configured limit of 300000" {
		t.Errorf("run_timeout over the cap: %+v", out.OverCap)
	}
}

// TestPistonErrors: every error under /api/v2/ is Piston's {message},
// the server's own refusals included, and Piston's content-type rule.
func TestPistonErrors(t *testing.T) {
	const secret = "sr_piston-secret-0123456789"
	e := newEnv(t, func(o *server.Options) { o.Auth = tokenAuth(t, secret) })
	body := `{"language":"python","version":"*","files":[{"content":"print(1)"}]}`
	for _, c := range []struct {
		name, method, path, token string
		hdr                       []string
		body                      string
		code                      int
		msg                       string
	}{
		{"no token", "GET", "/api/v2/runtimes", "", nil, "", 401, "missing bearer token"},
		{"bad token", "POST", "/api/v2/execute", "sr_wrong-wrong-wrong-wrong", nil, body, 401, ""},
		{"cross-origin", "POST", "/api/v2/execute", secret, []string{"Origin", "https://evil.example"}, body, 403, "cross-origin"},
		{"unknown path", "GET", "/api/v2/nothing", secret, nil, "", 404, "no route"},
		{"wrong method", "GET", "/api/v2/execute", secret, nil, "", 405, "not allowed"},
		{"text/plain", "POST", "/api/v2/execute", secret, []string{"Content-Type", "text/plain"}, body, 415, "requests must be of type application/json"},
		{"no content type", "POST", "/api/v2/execute", secret, []string{"Content-Type", ""}, body, 415, "requests must be of type application/json"},
		{"negative cpu", "POST", "/api/v2/execute", secret, nil, `{"language":"python","version":"*","files":[{"content":"1"}],"run_cpu_time":-1}`, 400, "run_cpu_time must be non-negative"},
		{"memory -1 is the default", "POST", "/api/v2/execute", secret, nil, `{"language":"python","version":"*","files":[{"content":"print(1)"}],"run_memory_limit":-1,"compile_memory_limit":-1}`, 200, ""},
		{"bad json", "POST", "/api/v2/execute", secret, nil, `{"language":`, 400, "body"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var rd *strings.Reader
			if c.body != "" {
				rd = strings.NewReader(c.body)
			}
			var r reply
			if rd != nil {
				r = e.do(t, c.method, c.path, c.token, rd, c.hdr...)
			} else {
				r = e.do(t, c.method, c.path, c.token, nil, c.hdr...)
			}
			if r.code != c.code {
				t.Fatalf("status %d, want %d: %s", r.code, c.code, r.body)
			}
			if c.code == 200 {
				return
			}
			var m map[string]any
			r.json(t, &m)
			msg, _ := m["message"].(string)
			if len(m) != 1 || msg == "" || !strings.Contains(msg, c.msg) {
				t.Errorf("body %s: want only {message} containing %q", r.body, c.msg)
			}
		})
	}
	// Outside /api/v2/ the one error body stays.
	r := e.do(t, "GET", "/v1/languages", "", nil)
	var eb server.ErrorBody
	r.json(t, &eb)
	if r.code != 401 || eb.Error == "" || eb.Code != "unauthorized" {
		t.Errorf("/v1 error body changed: %d %s", r.code, r.body)
	}
	// Packages: one per language with an interpreter here.
	r = e.do(t, "GET", "/api/v2/packages", secret, nil)
	var pkgs []server.PistonPackage
	if err := json.Unmarshal(r.body, &pkgs); err != nil || r.code != 200 {
		t.Fatalf("packages: %d %s", r.code, r.body)
	}
	found := map[string]bool{}
	for _, p := range pkgs {
		found[p.Language] = p.Installed && p.LanguageVersion != ""
	}
	if !found["python"] || !found["bash"] {
		t.Errorf("packages %+v", pkgs)
	}
}

type wsSession struct {
	Messages []struct {
		Type, Stream, Data, Language, Version, Stage string
		Code                                         *int
		Signal, Status, Message                      *string
	}
	Events         []string
	Code           int
	Reason         string
	Stdout, Stderr string
	HTTPStatus     int
	Body           string
}

func (s wsSession) exit(t *testing.T) (code *int, signal, status string) {
	t.Helper()
	for _, m := range s.Messages {
		if m.Type == "exit" {
			if m.Signal != nil {
				signal = *m.Signal
			}
			if m.Status != nil {
				status = *m.Status
			}
			return m.Code, signal, status
		}
	}
	t.Errorf("no exit message in %+v", s.Messages)
	return nil, "", ""
}

func (s wsSession) errorMessage() string {
	for _, m := range s.Messages {
		if m.Type == "error" && m.Message != nil {
			return *m.Message
		}
	}
	return ""
}

// TestPistonConnect drives Piston's WebSocket protocol with the npm ws
// client: input as it comes and output as it comes (the client sends its
// second line only after the answer to the first), a signal, the time
// limit, Piston's messages and close codes for protocol errors, and the
// same token and origin rules as the rest of the API.
func TestPistonConnect(t *testing.T) {
	const secret = "sr_connect-secret-0123456789"
	e := newEnv(t, func(o *server.Options) { o.Auth = tokenAuth(t, secret) })
	var out struct {
		Interactive, Signal, Timeout                     wsSession
		NotInit, Twice, BadRuntime, BadStream, BadSignal wsSession
		NoInit, NoToken, CrossOrigin                     wsSession
	}
	nodeClient(t, "testdata/clients", &out, "piston_connect.mjs", e.url, secret)

	in := out.Interactive
	if len(in.Messages) < 2 || in.Messages[0].Type != "runtime" || in.Messages[0].Language != "bash" || in.Messages[1].Type != "stage" || in.Messages[1].Stage != "run" {
		t.Errorf("interactive: first messages %+v", in.Messages)
	}
	if in.Stdout != "start A1\ngot hello\n" || in.Stderr != "err world\n" || len(in.Events) != 1 {
		t.Errorf("interactive: stdout %q stderr %q events %v", in.Stdout, in.Stderr, in.Events)
	}
	if code, sig, st := in.exit(t); code == nil || *code != 3 || sig != "" || st != "RE" {
		t.Errorf("interactive exit: %v %q %q", code, sig, st)
	}
	if in.Code != 4999 || in.Reason != "Job Completed" {
		t.Errorf("interactive close: %d %q", in.Code, in.Reason)
	}
	if code, sig, st := out.Signal.exit(t); code != nil || sig != "SIGTERM" || st != "SG" || out.Signal.Code != 4999 {
		t.Errorf("signal: exit %v %q %q, close %d, messages %+v", code, sig, st, out.Signal.Code, out.Signal.Messages)
	}
	if _, sig, st := out.Timeout.exit(t); sig != "SIGKILL" || st != "TO" {
		t.Errorf("timeout: %q %q", sig, st)
	}
	for name, c := range map[string]struct {
		s      wsSession
		code   int
		reason string
		msg    string
	}{
		"data before init": {out.NotInit, 4003, "Not yet initialized", ""},
		"second init":      {out.Twice, 4000, "Already Initialized", ""},
		"unknown runtime":  {out.BadRuntime, 4002, "Notified Error", "cobol-1 runtime is unknown"},
		"write to stdout":  {out.BadStream, 4004, "Can only write to stdin", ""},
		"unknown signal":   {out.BadSignal, 4005, "Invalid signal", ""},
		"no init in time":  {out.NoInit, 4001, "Initialization Timeout", ""},
	} {
		if c.s.Code != c.code || c.s.Reason != c.reason || c.s.errorMessage() != c.msg {
			t.Errorf("%s: close %d %q, error %q; want %d %q %q", name, c.s.Code, c.s.Reason, c.s.errorMessage(), c.code, c.reason, c.msg)
		}
	}
	if out.NoToken.HTTPStatus != 401 || !strings.Contains(out.NoToken.Body, `"message"`) {
		t.Errorf("no token: %d %s", out.NoToken.HTTPStatus, out.NoToken.Body)
	}
	if out.CrossOrigin.HTTPStatus != 403 || !strings.Contains(out.CrossOrigin.Body, `"message":"cross-origin`) {
		t.Errorf("cross-origin upgrade: %d %s", out.CrossOrigin.HTTPStatus, out.CrossOrigin.Body)
	}
}
