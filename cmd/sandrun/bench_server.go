package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/benchkit"
	"github.com/sandrun/sandrun/lang"
	"github.com/sandrun/sandrun/server"
)

// benchListen serves a's API on a loopback port for a bench (at most
// concurrent runs at once): its /v1/runs URL, and stop.
func benchListen(ctx context.Context, a *app, concurrent int) (string, func(), error) {
	srv, err := server.New(server.Options{Sandbox: a.sandbox, Languages: a.langs, AdmissionOptions: server.AdmissionOptions{MaxConcurrent: concurrent}})
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln, 5*time.Second) }()
	return "http://" + ln.Addr().String() + "/v1/runs", func() { cancel(); <-done }, nil
}

// benchServer measures a run through the HTTP API against the same run
// through the Go API, interleaved, on the process tier: the cost of the
// transport (JSON, HTTP, admission, metrics).
func benchServer(ctx context.Context, env *cliEnv, a *app, n int) error {
	url, stop, err := benchListen(ctx, a, 1)
	if err != nil {
		return err
	}
	defer stop()
	client := &http.Client{Timeout: time.Minute}

	req := sandrun.Request{Language: lang.Bash, Code: "echo 1", Backend: "process"}
	body, _ := json.Marshal(req)
	goAPI := benchkit.Case{Name: "go api", Run: func() error {
		return runOK(a.sandbox.Run(ctx, &req))
	}}
	overHTTP := benchkit.Case{Name: "http /v1/runs", Run: func() error {
		res, code, err := postRun(client, url, body)
		if err == nil && (code != 200 || res.Status != sandrun.StatusOK) {
			err = fmt.Errorf("HTTP %d, status %s: %s", code, res.Status, res.Error)
		}
		return err
	}}
	s, err := benchkit.Interleave(n, 3, goAPI, overHTTP)
	if err != nil {
		return err
	}
	benchkit.Report(env.stdout, "server round trip vs Go API, process tier, bash echo 1", s)
	fmt.Fprintf(env.stdout, "transport cost (difference of medians): %v\n", (s[1].Median() - s[0].Median()).Round(10*time.Microsecond))
	return nil
}
