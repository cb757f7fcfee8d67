package sessionmcp_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/session"
	"github.com/sandrun/sandrun/session/sessionmcp"
	"github.com/sandrun/sandrun/session/sessiontest"
)

// connect serves the session tools of m as the caller who and returns a
// client connected to them (the go-sdk's client, in memory; the
// TypeScript client drives the same tools over stdio and HTTP in
// server/ and cmd/sandrun).
func connect(t *testing.T, m *session.Manager, who string) *mcp.ClientSession {
	t.Helper()
	ms := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	sessionmcp.Register(ms, m, func(context.Context) string { return who })
	st, ct := mcp.NewInMemoryTransports()
	ctx := context.Background()
	ss, err := ms.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close(); ss.Close() })
	return cs
}

func call(t *testing.T, cs *mcp.ClientSession, name, args string, out any) *mcp.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: json.RawMessage(args)})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if out != nil && !res.IsError {
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: structured content %s: %v", name, b, err)
		}
	}
	return res
}

func text(r *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range r.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func TestTools(t *testing.T) {
	b := sessiontest.Backends()[0]
	m, err := session.New(session.Options{Sandbox: sessiontest.Sandbox(t, sandrun.Options{}), Launchers: map[string]sandrun.Launcher{b: sessiontest.Launcher(t, b)}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown()
	alice, bob := connect(t, m, "alice"), connect(t, m, "bob")

	tl, err := alice.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, tool := range tl.Tools {
		names = append(names, tool.Name)
		if tool.OutputSchema == nil || tool.Annotations == nil || tool.Annotations.DestructiveHint == nil || tool.Annotations.OpenWorldHint == nil {
			t.Errorf("%s: output schema or annotations missing: %+v", tool.Name, tool.Annotations)
		}
	}
	if strings.Join(names, ",") != "session_close,session_create,session_list,session_run" {
		t.Fatalf("tools %v", names)
	}

	var in session.Info
	call(t, alice, "session_create", `{"language":"javascript","idle_timeout":"1m","limits":{"wall_time":"20s","memory":"256MiB"}}`, &in)
	if in.ID == "" || in.Limits.WallTime.D().Seconds() != 20 {
		t.Fatalf("create: %+v", in)
	}
	call(t, alice, "session_run", `{"session_id":"`+in.ID+`","code":"var k = 'kept'; let s = 0; for (let i = 0; i < 3e7; i++) s += i"}`, nil)
	var res sandrun.Result
	r := call(t, alice, "session_run", `{"session_id":"`+in.ID+`","code":"require('fs').writeFileSync('out.txt', k); console.log(k)","collect":["out.txt"]}`, &res)
	if res.Stdout != "kept\n" || len(res.Files) != 1 || string(res.Files[0].Content) != "kept" {
		t.Fatalf("run: %+v", res)
	}
	// The step's usage is measured (it was always 0).
	if res.Usage.MemoryPeakBytes <= 0 {
		t.Errorf("step usage: %+v", res.Usage)
	}
	var embedded bool
	for _, c := range r.Content {
		if er, ok := c.(*mcp.EmbeddedResource); ok && er.Resource.Text == "kept" && strings.HasSuffix(er.Resource.URI, "/files/out.txt") {
			embedded = true
		}
	}
	if !embedded {
		t.Errorf("collected file not embedded: %+v", r.Content)
	}
	var busy sandrun.Result
	call(t, alice, "session_run", `{"session_id":"`+in.ID+`","code":"let t = 0; for (let i = 0; i < 2e8; i++) t += i; console.log(t > 0)"}`, &busy)
	if busy.Usage.CPUMs <= 0 {
		t.Errorf("a busy step reports no CPU time: %+v", busy.Usage)
	}

	// One unit for times: a bare number is refused, naming the field,
	// and so is the old seconds-or-milliseconds timeout.
	for args, want := range map[string]string{
		`{"session_id":"` + in.ID + `","code":"1","limits":{"wall_time":5}}`: "wall_time",
		`{"session_id":"` + in.ID + `","code":"1","timeout":5}`:              "timeout",
		`{"language":"javascript","idle_timeout":600}`:                       "idle_timeout",
		`{"language":"javascript","limits":{"memory":256}}`:                  "memory",
	} {
		name := "session_run"
		if strings.Contains(args, "language") {
			name = "session_create"
		}
		if r := call(t, alice, name, args, nil); !r.IsError || !strings.Contains(text(r), want) {
			t.Errorf("%s %s: accepted or unclear: %s", name, args, text(r))
		}
	}

	// Sessions are per caller: bob neither sees nor drives alice's.
	var lst sessionmcp.ListOutput
	call(t, bob, "session_list", `{}`, &lst)
	if len(lst.Sessions) != 0 {
		t.Fatalf("bob sees %+v", lst.Sessions)
	}
	if r := call(t, bob, "session_run", `{"session_id":"`+in.ID+`","code":"1"}`, nil); !r.IsError || !strings.Contains(text(r), "no such session") {
		t.Fatalf("bob ran in alice's session: %s", text(r))
	}
	call(t, alice, "session_list", `{}`, &lst)
	if len(lst.Sessions) != 1 || lst.Sessions[0].ID != in.ID || lst.Sessions[0].Runs != 3 {
		t.Fatalf("alice's list: %+v", lst.Sessions)
	}
	var fin session.Info
	call(t, alice, "session_close", `{"session_id":"`+in.ID+`"}`, &fin)
	if fin.State != session.StateClosed {
		t.Fatalf("close: %+v", fin)
	}
}
