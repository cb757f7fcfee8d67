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

func TestParseTiers(t *testing.T) {
	got, err := parseTiers(" jail, process,jail ")
	if err != nil || strings.Join(got, ",") != "jail,process" {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"", " , ", "jail,pool", "root", "JAIL"} {
		if _, err := parseTiers(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// serveHandler is the HTTP handler `sandrun serve` builds from f.
func serveHandler(t *testing.T, f serveFlags) (*app, http.Handler) {
	t.Helper()
	t.Setenv("SANDRUN_AUDIT", "off")
	f.maxCode, f.maxSessions = "1MiB", 2
	a, opts, err := f.app(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	srv, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return a, srv.Handler()
}

func postJSON(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// Issue 12 item 1: a default `serve` ran {"backend":"process"} for any
// caller, and the process tier does not isolate. By default the server
// offers only the tiers that isolate; a request for another gets a 400
// naming the allowed tiers, for one-shot runs and sessions alike, and auto
// can never land on it.
func TestServeRefusesTiersNotAllowed(t *testing.T) {
	t.Setenv("SANDRUN_TIERS", "")
	a, h := serveHandler(t, serveFlags{sessions: true})
	ts := httptest.NewServer(h)
	defer ts.Close()

	code, body := postJSON(t, ts.URL+"/v1/runs", `{"language":"bash","backend":"process","code":"id -u"}`)
	msg, _ := body["error"].(string)
	if code != http.StatusBadRequest || body["field"] != "backend" || !strings.Contains(msg, "not allowed") || !strings.Contains(msg, "jail") || strings.Contains(msg, "process,") {
		t.Fatalf("process run: %d %v", code, body)
	}
	code, body = postJSON(t, ts.URL+"/v1/sessions", `{"language":"python","backend":"process"}`)
	if code != http.StatusBadRequest || !strings.Contains(body["error"].(string), "jail") {
		t.Fatalf("process session: %d %v", code, body)
	}
	for _, b := range a.sandbox.Backends() {
		if b.Name() == "process" {
			t.Fatal("the process tier is registered: auto could pick it")
		}
	}
	if _, ok := a.launchers["process"]; ok {
		t.Fatal("the process tier hosts sessions")
	}
}

// The operator can allow the process tier explicitly (flag or env), and
// can narrow the list: a tier left out is refused.
func TestServeTiersFromOperator(t *testing.T) {
	t.Setenv("SANDRUN_TIERS", "process,restricted")
	a, h := serveHandler(t, serveFlags{})
	if _, ok := a.sandbox.Backend("process"); !ok {
		t.Fatal("SANDRUN_TIERS=process,restricted: process not registered")
	}
	ts := httptest.NewServer(h)
	defer ts.Close()
	code, body := postJSON(t, ts.URL+"/v1/runs", `{"language":"bash","backend":"jail","code":"true"}`)
	if code != http.StatusBadRequest || !strings.Contains(body["error"].(string), "allowed: auto, process, restricted") {
		t.Fatalf("jail run with tiers process,restricted: %d %v", code, body)
	}
	_, _ = serveHandler(t, serveFlags{tiers: "restricted"})
	if _, _, err := (&serveFlags{tiers: "jail,nope"}).app(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "--tiers") {
		t.Fatalf("bad --tiers: %v", err)
	}
}
