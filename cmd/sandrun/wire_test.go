package main

import (
	"testing"
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
	post := sessionServer(t)
	s := post("/v1/sessions", `{"language":"python"}`)
	id, _ := s["id"].(string)
	post("/v1/sessions/"+id+"/run", `{"code":"x = 41"}`)
	r := post("/v1/sessions/"+id+"/run", `{"code":"print(x + 1)"}`)
	if r["stdout"] != "42\n" {
		t.Fatalf("%v", r)
	}
}
