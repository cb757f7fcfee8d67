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

type mcpOut struct {
	Server struct{ Name, Version string }
	Tools  []struct {
		Name         string
		Annotations  map[string]any
		InputSchema  map[string]any
		OutputSchema map[string]any
	}
	Progress                                      []string
	Languages, Run, Timeout, BadLanguage, BadArgs struct {
		Content []struct {
			Type, Text string
		}
		StructuredContent map[string]any
		IsError           bool
		Thrown            string
	}
}

// checkMCP asserts what the TypeScript client saw; shared by the HTTP and
// the stdio test (cmd/sandrun).
func checkMCP(t *testing.T, out mcpOut) {
	t.Helper()
	if out.Server.Name != "sandrun" {
		t.Errorf("server %+v", out.Server)
	}
	tools := map[string]map[string]any{}
	for _, tl := range out.Tools {
		tools[tl.Name] = tl.Annotations
		if tl.OutputSchema == nil {
			t.Errorf("%s has no output schema", tl.Name)
		}
	}
	if a := tools["run_code"]; a == nil || a["readOnlyHint"] != false || a["destructiveHint"] != false || a["openWorldHint"] != false {
		t.Errorf("run_code annotations %v", a)
	}
	if a := tools["list_languages"]; a == nil || a["readOnlyHint"] != true || a["idempotentHint"] != true {
		t.Errorf("list_languages annotations %v", a)
	}
	if len(out.Languages.Content) == 0 || !strings.Contains(out.Languages.Content[0].Text, "python") {
		t.Errorf("list_languages %+v", out.Languages)
	}
	r := out.Run
	sc := r.StructuredContent
	if r.IsError || sc["status"] != "exit_error" || sc["exit_code"] != float64(4) ||
		sc["stdout"] != "from-a-file from-stdin\n" || sc["stderr"] != "oops\n" {
		t.Errorf("run_code structured %+v", r)
	}
	if len(r.Content) == 0 || !strings.Contains(r.Content[0].Text, "status: exit_error (exit code 4)") ||
		!strings.Contains(r.Content[0].Text, "from-a-file from-stdin") {
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
	if out.Timeout.StructuredContent["status"] != "timeout" {
		t.Errorf("timeout %+v", out.Timeout)
	}
	if !out.BadLanguage.IsError || len(out.BadLanguage.Content) == 0 || !strings.Contains(out.BadLanguage.Content[0].Text, "language") {
		t.Errorf("bad language %+v", out.BadLanguage)
	}
	if !out.BadArgs.IsError && out.BadArgs.Thrown == "" {
		t.Errorf("unknown argument accepted: %+v", out.BadArgs)
	}
}

func TestMCPHTTP(t *testing.T) {
	const secret = "sr_mcp-test-secret-0123456789"
	e := newEnv(t, func(o *server.Options) { o.MCP = true; o.Auth = tokenAuth(t, secret) })
	if r := e.do(t, "POST", "/mcp", "", strings.NewReader(`{}`)); r.code != 401 {
		t.Fatalf("/mcp without a token: %d", r.code)
	}
	var out mcpOut
	nodeClient(t, "testdata/clients", &out, "mcp_client.mjs", "http", e.url+"/mcp", secret)
	checkMCP(t, out)
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
