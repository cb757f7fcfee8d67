package server_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun/server"
)

// nodeClient runs one of the scripts in testdata/clients (real npm
// clients: @modelcontextprotocol/sdk, piston-client) and decodes the JSON
// it prints.
func nodeClient(t *testing.T, dir string, out any, args ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("npm client tests: skipped under -short")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFail(t, "node is needed for the client tests: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "sdk")); err != nil {
		skipOrFail(t, "npm packages missing: run `npm ci` in %s (scripts/setup.d/60-server.sh does)", dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %v: %v\n%s\n%s", args, err, b, stderr.String())
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("node printed %q: %v\nstderr: %s", b, err, stderr.String())
	}
}

type mcpCall struct {
	Content []struct {
		Type, Text string
		Resource   struct{ URI, MimeType, Text, Blob string }
	}
	StructuredContent map[string]any
	IsError           bool
	Thrown            string
}

func (c mcpCall) text() string {
	var b strings.Builder
	for _, x := range c.Content {
		b.WriteString(x.Text)
	}
	return b.String() + c.Thrown
}

type mcpOut struct {
	Server struct{ Name, Version string }
	Tools  []struct {
		Name         string
		Annotations  map[string]any
		InputSchema  map[string]any
		OutputSchema map[string]any
	}
	Progress                                   []string
	Languages, Run, Full, Timeout, BadLanguage mcpCall
	BadArgs, BareNumber, OldTimeout            mcpCall
	Session                                    *struct{ Create, Set, Get, BareNumber, List, Close mcpCall }
}

// checkMCP asserts what the TypeScript client saw: every tool has typed
// input and output schemas and truthful annotations; run_code takes what
// POST /v1/runs takes (args, env, limits with units, a tier, collect) and
// returns collected files as embedded resources; times are strings with a
// unit; the session tools (when registered) keep state and list. The
// client validates each structuredContent against the tool's output
// schema, so a reply that did not match would be a thrown error here.
func checkMCP(t *testing.T, out mcpOut) {
	t.Helper()
	if out.Server.Name != "sandrun" {
		t.Errorf("server %+v", out.Server)
	}
	tools := map[string]map[string]any{}
	for _, tl := range out.Tools {
		tools[tl.Name] = tl.Annotations
		if tl.OutputSchema == nil || tl.OutputSchema["type"] != "object" || tl.InputSchema["type"] != "object" {
			t.Errorf("%s: schemas %v / %v", tl.Name, tl.InputSchema, tl.OutputSchema)
		}
		for _, h := range []string{"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"} {
			if _, ok := tl.Annotations[h]; !ok && !(h == "idempotentHint" || h == "readOnlyHint") {
				t.Errorf("%s: annotation %s not set", tl.Name, h)
			}
		}
		if tl.Name == "run_code" {
			props, _ := tl.InputSchema["properties"].(map[string]any)
			files, _ := props["files"].(map[string]any)
			lim, _ := props["limits"].(map[string]any)
			lp, _ := lim["properties"].(map[string]any)
			wall, _ := lp["wall_time"].(map[string]any)
			if files["type"] != "array" || wall["type"] != "string" || props["args"] == nil || props["env"] == nil || props["collect"] == nil || props["backend"] == nil {
				t.Errorf("run_code input schema: %v", props)
			}
		}
	}
	want := map[string][4]any{ // readOnly, destructive, idempotent, openWorld
		"run_code":       {nil, false, nil, false},
		"list_languages": {true, false, true, false},
	}
	if _, ok := tools["session_create"]; ok {
		want["session_create"] = [4]any{nil, false, nil, false}
		want["session_run"] = [4]any{nil, true, nil, false}
		want["session_list"] = [4]any{true, false, true, false}
		want["session_close"] = [4]any{nil, true, true, false}
	}
	for name, w := range want {
		a := tools[name]
		for i, h := range []string{"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"} {
			got := a[h]
			if w[i] == nil && (got == nil || got == false) {
				continue
			}
			if got != w[i] {
				t.Errorf("%s: %s = %v, want %v", name, h, got, w[i])
			}
		}
	}
	if len(out.Languages.Content) == 0 || !strings.Contains(out.Languages.text(), "python") || out.Languages.StructuredContent["languages"] == nil {
		t.Errorf("list_languages %+v", out.Languages)
	}
	r := out.Run
	sc := r.StructuredContent
	if r.IsError || r.Thrown != "" || sc["status"] != "exit_error" || sc["exit_code"] != float64(4) ||
		sc["stdout"] != "from-a-file from-stdin\n" || sc["stderr"] != "oops\n" {
		t.Errorf("run_code structured %+v", r)
	}
	if !strings.Contains(r.text(), "status: exit_error (exit code 4)") || !strings.Contains(r.text(), "from-a-file from-stdin") {
		t.Errorf("run_code text %+v", r.Content)
	}
	// The test server's stand-in filter passes output through: it arrives
	// as progress notifications while the program runs.
	var stdout, stderr string
	for _, m := range out.Progress {
		if rest, ok := strings.CutPrefix(m, "[stderr] "); ok {
			stderr += rest
		} else {
			stdout += m
		}
	}
	if stdout != "from-a-file from-stdin\n" || stderr != "oops\n" {
		t.Errorf("progress notifications %q", out.Progress)
	}
	f := out.Full
	files := map[string]string{}
	for _, c := range f.Content {
		if c.Type == "resource" {
			files[c.Resource.URI[strings.LastIndex(c.Resource.URI, "/")+1:]] = c.Resource.Text + "|" + c.Resource.Blob
		}
	}
	if f.IsError || f.Thrown != "" || f.StructuredContent["stdout"] != "hello world\n" || files["out.txt"] != "data\n|" || files["bin.dat"] != "|AAE=" || len(files) != 2 {
		t.Errorf("run_code with args, env, limits, collect: %+v files %v", f, files)
	}
	if out.Timeout.StructuredContent["status"] != "timeout" {
		t.Errorf("timeout %+v", out.Timeout)
	}
	if !out.BadLanguage.IsError || !strings.Contains(out.BadLanguage.text(), "language") {
		t.Errorf("bad language %+v", out.BadLanguage)
	}
	for name, c := range map[string]mcpCall{"unknown argument": out.BadArgs, "bare number": out.BareNumber, "old timeout": out.OldTimeout} {
		if !c.IsError && c.Thrown == "" {
			t.Errorf("%s accepted: %+v", name, c)
		}
	}
	if !strings.Contains(out.BareNumber.text(), "wall_time") {
		t.Errorf("a bare number's error does not name the field: %s", out.BareNumber.text())
	}
	if s := out.Session; s != nil {
		if s.Get.StructuredContent["stdout"] != "42\n" || s.Get.IsError {
			t.Errorf("session state not kept: %+v", s.Get)
		}
		if !s.BareNumber.IsError || !strings.Contains(s.BareNumber.text(), "wall_time") {
			t.Errorf("session_run took a bare number: %+v", s.BareNumber)
		}
		if l, _ := s.List.StructuredContent["sessions"].([]any); len(l) != 1 {
			t.Errorf("session_list %+v", s.List)
		}
		if s.Close.StructuredContent["state"] != "closed" {
			t.Errorf("session_close %+v", s.Close)
		}
	}
}

func TestMCPHTTP(t *testing.T) {
	const secret = "sr_mcp-test-secret-0123456789"
	e := newEnv(t, func(o *server.Options) { o.MCP = true; o.Auth = tokenAuth(t, secret); withSessions(t)(o) })
	if r := e.do(t, "POST", "/mcp", "", strings.NewReader(`{}`)); r.code != 401 {
		t.Fatalf("/mcp without a token: %d", r.code)
	}
	var out mcpOut
	nodeClient(t, "testdata/clients", &out, "mcp_client.mjs", "http", e.url+"/mcp", secret)
	checkMCP(t, out)
	t.Logf("a bare number in limits: %s", out.BareNumber.text())
	if out.Session == nil {
		t.Error("the session tools were not listed")
	}
}

// An MCP session belongs to the token that opened it: another token that
// learns the session id cannot drive it.
func TestMCPSessionBoundToToken(t *testing.T) {
	a := &server.Auth{}
	_ = a.AddSecret("alice", "sr_alice-secret-0123456789")
	_ = a.AddSecret("bob", "sr_bob-secret-0123456789ab")
	e := newEnv(t, func(o *server.Options) { o.MCP = true; o.Auth = a })
	hdr := func(sid string) []string {
		h := []string{"Accept", "application/json, text/event-stream"}
		if sid != "" {
			h = append(h, "Mcp-Session-Id", sid)
		}
		return h
	}
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	r := e.do(t, "POST", "/mcp", "sr_alice-secret-0123456789", strings.NewReader(init), hdr("")...)
	sid := r.header.Get("Mcp-Session-Id")
	if r.code != 200 || sid == "" {
		t.Fatalf("initialize: %d %q %s", r.code, sid, r.body)
	}
	list := `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
	if r := e.do(t, "POST", "/mcp", "sr_bob-secret-0123456789ab", strings.NewReader(list), hdr(sid)...); r.code != 403 {
		t.Fatalf("bob used alice's session: %d %s", r.code, r.body)
	}
	if r := e.do(t, "POST", "/mcp", "sr_alice-secret-0123456789", strings.NewReader(list), hdr(sid)...); r.code == 403 {
		t.Fatalf("alice refused her own session: %s", r.body)
	}
}

// TestMCPInvalidUTF8: text that is not UTF-8 in a tool's arguments (raw
// bytes, or an escaped lone surrogate) is refused naming the field, as
// the REST API refuses it, instead of being decoded into U+FFFD.
func TestMCPInvalidUTF8(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.MCP = true })
	hdr := func(sid string) []string {
		h := []string{"Accept", "application/json, text/event-stream"}
		if sid != "" {
			h = append(h, "Mcp-Session-Id", sid, "Mcp-Protocol-Version", "2025-06-18")
		}
		return h
	}
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	r := e.do(t, "POST", "/mcp", "", strings.NewReader(init), hdr("")...)
	sid := r.header.Get("Mcp-Session-Id")
	if r.code != 200 || sid == "" {
		t.Fatalf("initialize: %d %s", r.code, r.body)
	}
	e.do(t, "POST", "/mcp", "", strings.NewReader(`{"jsonrpc":"2.0","method":"notifications/initialized"}`), hdr(sid)...)
	for name, args := range map[string]string{
		"stdin": `{"language":"python","code":"print(1)","stdin":"a` + "\xff" + `b"}`,
		"code":  `{"language":"python","code":"print('\ud800')"}`,
	} {
		body := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"run_code","arguments":` + args + `}}`
		r := e.do(t, "POST", "/mcp", "", strings.NewReader(body), hdr(sid)...)
		if r.code != 200 || !strings.Contains(string(r.body), `"isError":true`) || !strings.Contains(string(r.body), name) || !strings.Contains(string(r.body), "UTF-8") {
			t.Errorf("%s: %d %s", name, r.code, r.body)
		}
	}
}
