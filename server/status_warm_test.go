package server_test

import (
	"context"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/server"
)

// warmFake is a backend with a warm path, as the jail (zygotes) and the
// pool (prestarted interpreters) are.
type warmFake struct {
	name string
	st   map[string]sandrun.WarmStatus
}

func (f warmFake) Name() string                              { return f.name }
func (f warmFake) Check(context.Context, string) error       { return nil }
func (f warmFake) WarmStatus() map[string]sandrun.WarmStatus { return f.st }
func (f warmFake) Run(context.Context, *sandrun.Request) (*sandrun.Result, error) {
	return &sandrun.Result{Status: sandrun.StatusOK}, nil
}

// TestStatusWarm: GET /v1/status shows each language's warm path from the
// backends that have one (the first backend's when two report a
// language), with what was served warm and why runs went cold; without
// one the section is absent (TestStatus).
func TestStatusWarm(t *testing.T) {
	pool := warmFake{name: "pool", st: map[string]sandrun.WarmStatus{
		"javascript": {Kind: sandrun.WarmPrestarted, Tier: "jail", Ready: 2, Warm: 5, Cold: map[string]int64{"none_ready": 1, "limits": 2}},
	}}
	jl := warmFake{name: "jail", st: map[string]sandrun.WarmStatus{
		"python":     {Kind: sandrun.WarmZygote, Tier: "jail", Ready: 8, Warm: 40, Cold: map[string]int64{"busy": 3}, Restarts: 1},
		"javascript": {Kind: sandrun.WarmZygote, Tier: "jail", Warm: 99, Cold: map[string]int64{}},
	}}
	sb, err := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{pool, jl}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *server.Options) { o.Sandbox = sb })
	r := e.do(t, "GET", "/v1/status", "", nil)
	var s server.StatusBody
	r.json(t, &s)
	js, py := s.Warm["javascript"], s.Warm["python"]
	if r.code != 200 || len(s.Warm) != 2 ||
		js.Kind != "prestart" || js.Ready != 2 || js.Warm != 5 || js.Cold["none_ready"] != 1 || js.Cold["limits"] != 2 ||
		py.Kind != "zygote" || py.Ready != 8 || py.Warm != 40 || py.Cold["busy"] != 3 || py.Restarts != 1 {
		t.Errorf("%d %s", r.code, r.body)
	}
}
