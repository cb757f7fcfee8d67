package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sandrun/sandrun/backend/docker"
	"github.com/sandrun/sandrun/internal/testenv"
	"github.com/sandrun/sandrun/server"
)

// `sandrun serve` offers docker to sessions: a session asked for on
// docker keeps its state between steps.
func TestServeDockerSessions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a container")
	}
	probe := docker.New(docker.Options{})
	defer probe.Close()
	if err := probe.Check(context.Background(), "python"); err != nil {
		testenv.Skip(t, "docker tier unavailable: %v", err)
	}
	post := sessionServer(t)
	s := post("/v1/sessions", `{"language":"python","backend":"docker"}`)
	id, _ := s["id"].(string)
	if s["backend"] != "docker" {
		t.Fatalf("session %v", s)
	}
	post("/v1/sessions/"+id+"/run", `{"code":"x = 41"}`)
	if r := post("/v1/sessions/"+id+"/run", `{"code":"print(x + 1)"}`); r["stdout"] != "42\n" {
		t.Fatalf("%v", r)
	}
}

// sessionServer starts the server `sandrun serve --sessions` builds (audit
// off) and returns a poster for JSON bodies that fails the test on an
// error status.
func sessionServer(t *testing.T) func(path, body string) map[string]any {
	t.Helper()
	t.Setenv("SANDRUN_AUDIT", "off")
	f := serveFlags{sessions: true, maxSessions: 2, maxCode: "1MiB"}
	a, opts, err := f.app(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	srv, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return func(path, body string) map[string]any {
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
}
