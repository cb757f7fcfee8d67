package sessionmcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/session"
	"github.com/sandrun/sandrun/session/sessionmcp"
	"github.com/sandrun/sandrun/session/sessiontest"
)

func TestTools(t *testing.T) {
	b := sessiontest.Backends()[0]
	m, err := session.New(session.Options{Sandbox: sessiontest.Sandbox(t, sandrun.Options{}), Launchers: map[string]sandrun.Launcher{b: sessiontest.Launcher(t, b)}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown()
	tools := map[string]sessionmcp.Tool{}
	type who struct{}
	owner := func(ctx context.Context) string { s, _ := ctx.Value(who{}).(string); return s }
	for _, tl := range sessionmcp.Tools(m, owner) {
		var schema map[string]any
		if err := json.Unmarshal(tl.InputSchema, &schema); err != nil {
			t.Fatalf("%s: schema: %v", tl.Name, err)
		}
		tools[tl.Name] = tl
	}
	ctx := context.WithValue(context.Background(), who{}, "alice")
	call := func(name, args string) any {
		t.Helper()
		v, err := tools[name].Handle(ctx, json.RawMessage(args))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	in := call("session_create", `{"language":"javascript","idle_timeout":"1m"}`).(session.Info)
	call("session_run", `{"session_id":"`+in.ID+`","code":"var k = 'kept'"}`)
	res := call("session_run", `{"session_id":"`+in.ID+`","code":"console.log(k)"}`).(*sandrun.Result)
	if res.Stdout != "kept\n" {
		t.Fatalf("run: %+v", res)
	}
	if _, err := tools["session_run"].Handle(ctx, json.RawMessage(`{"session_id":"`+in.ID+`","code":"1","extra":1}`)); !errors.Is(err, sandrun.ErrBadRequest) {
		t.Fatalf("unknown argument: %v", err)
	}
	bob := context.WithValue(context.Background(), who{}, "bob")
	if _, err := tools["session_run"].Handle(bob, json.RawMessage(`{"session_id":"`+in.ID+`","code":"1"}`)); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("another caller ran in the session: %v", err)
	}
	fin := call("session_close", `{"session_id":"`+in.ID+`"}`).(session.Info)
	if fin.State != session.StateClosed {
		t.Fatalf("close: %+v", fin)
	}
}
