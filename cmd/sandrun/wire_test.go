package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sandrun/sandrun/server"
)

func TestParsePoolSizes(t *testing.T) {
	got, err := parsePoolSizes("python=4, js=2")
	if err != nil || got["python"] != 4 || got["javascript"] != 2 {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"python", "python=x", "bash=2", "python=-1", "python=1000"} {
		if _, err := parsePoolSizes(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The server that `sandrun serve` builds has session routes: state kept
// between two runs of one session.
func TestServeWiresSessions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a jailed interpreter")
	}
	t.Setenv("SANDRUN_AUDIT", "off")
	f := serveFlags{sessions: true, maxSessions: 2, maxCode: "1MiB"}
	a, opts, err := f.app(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	post := func(path, body string) map[string]any {
		t.Helper()
		resp, err := http.Post(ts.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, m)
		}
		return m
	}
	s := post("/v1/sessions", `{"language":"python"}`)
	id, _ := s["id"].(string)
	post("/v1/sessions/"+id+"/run", `{"code":"x = 41"}`)
	r := post("/v1/sessions/"+id+"/run", `{"code":"print(x + 1)"}`)
	if r["stdout"] != "42\n" {
		t.Fatalf("%v", r)
	}
}
