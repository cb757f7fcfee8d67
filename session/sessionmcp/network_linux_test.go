//go:build linux

package sessionmcp_test

import (
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/internal/nettest"
	"github.com/sandrun/sandrun/session"
	"github.com/sandrun/sandrun/session/sessiontest"
)

// TestSessionNetwork: session_create takes a network policy (the string
// form and the object form with limits); the session's steps reach the
// allowed test host through its proxy and report usage.network; a
// malformed policy is refused naming the field.
func TestSessionNetwork(t *testing.T) {
	n := nettest.New(t, "hosta.test")
	m, err := session.New(session.Options{Sandbox: sessiontest.Sandbox(t, sandrun.Options{}),
		Launchers: map[string]sandrun.Launcher{jail.Name: sessiontest.NetJail(t, n, "allow:hosta.test:80")}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown()
	cs := connect(t, m, "alice")
	for _, network := range []string{`"allow:hosta.test:80"`, `{"allow":[{"host":"hosta.test","ports":[80]}],"limits":{"bytes_down":"1MiB"}}`} {
		var in session.Info
		if r := call(t, cs, "session_create", `{"language":"python","network":`+network+`}`, &in); r.IsError {
			t.Fatalf("session_create with network %s: %s", network, text(r))
		}
		if in.Network.String() != "allow:hosta.test:80" {
			t.Fatalf("created %+v", in)
		}
		var res sandrun.Result
		r := call(t, cs, "session_run", `{"session_id":"`+in.ID+`","code":"import urllib.request\nprint(urllib.request.urlopen('http://hosta.test/hello', timeout=30).read().decode())"}`, &res)
		if r.IsError || res.Status != sandrun.StatusOK || !strings.Contains(res.Stdout, "hello from hosta.test") ||
			res.Usage.Network == nil || res.Usage.Network.Connections != 1 {
			t.Fatalf("session_run: %s %+v", text(r), res)
		}
		call(t, cs, "session_close", `{"session_id":"`+in.ID+`"}`, nil)
	}
	if r := call(t, cs, "session_create", `{"language":"python","network":"allow:hosta.test"}`, nil); !r.IsError || !strings.Contains(text(r), "network") {
		t.Fatalf("a port-less network: %s", text(r))
	}
}
