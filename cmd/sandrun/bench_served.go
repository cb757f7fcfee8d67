package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/benchkit"
	"github.com/sandrun/sandrun/lang"
	"github.com/sandrun/sandrun/server"
)

// servedStack starts what `sandrun serve` runs by default, with no flag
// (its default tiers, pools, prestart, admission), in this process on a
// loopback port, and returns a function that posts one run of python
// print(1) to /v1/runs.
func servedStack(ctx context.Context) (post func() error, stop func(), err error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var f serveFlags
	f.register(fs, true)
	if err := fs.Parse(nil); err != nil {
		return nil, nil, err
	}
	sa, opts, err := f.app(ctx, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, nil, err
	}
	srv, err := server.New(opts)
	if err != nil {
		sa.Close()
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		sa.Close()
		return nil, nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln, 5*time.Second) }()
	stop = func() { cancel(); <-done; sa.Close() }
	url := "http://" + ln.Addr().String() + "/v1/runs"
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	body, _ := json.Marshal(sandrun.Request{Language: lang.Python, Code: "print(1)"})
	post = func() error {
		res, code, err := postRun(client, url, body)
		if err == nil && (code != http.StatusOK || res.Status != sandrun.StatusOK || res.Stdout != "1\n") {
			err = fmt.Errorf("HTTP %d, status %s (backend %s): %s", code, res.Status, res.Backend, res.Error)
		}
		return err
	}
	return post, stop, nil
}

// postRun posts one run request and decodes the Result.
func postRun(client *http.Client, url string, body []byte) (*sandrun.Result, int, error) {
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	var res sandrun.Result
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return nil, resp.StatusCode, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return &res, resp.StatusCode, nil
}

// servedAndBare starts the default serve stack and returns its run
// function and the bare baseline.
func servedAndBare(ctx context.Context, a *app) (bare benchkit.Case, post func() error, stop func(), err error) {
	if bare, err = bareSpawn(ctx, a, lang.Python, "print(1)"); err != nil {
		return bare, nil, nil, err
	}
	post, stop, err = servedStack(ctx)
	return bare, post, stop, err
}

// benchServed: sequential python print(1) through /v1/runs on the default
// serve stack against one bare spawn of the real interpreter (issue 11:
// p50 <= 0.5x; that needs the warm path serve uses by default).
func benchServed(ctx context.Context, env *cliEnv, a *app, n int) error {
	bare, post, stop, err := servedAndBare(ctx, a)
	if err != nil {
		return err
	}
	defer stop()
	s, err := benchkit.Interleave(n, 3, bare, benchkit.Case{Name: "served /v1/runs (default serve)", Run: post})
	if err != nil {
		return err
	}
	benchkit.Report(env.stdout, "served: sequential python print(1) through POST /v1/runs on the default serve stack vs one bare spawn", s)
	return nil
}

func benchThroughput(conc int) benchScenario {
	return func(ctx context.Context, env *cliEnv, a *app, n int) error {
		bare, post, stop, err := servedAndBare(ctx, a)
		if err != nil {
			return err
		}
		defer stop()
		// Warm both sides (discovery, pools, the HTTP connections).
		for i := 0; i < 3; i++ {
			if err := post(); err != nil {
				return err
			}
		}
		runs := max(4*conc, 2*n)
		sides := []benchkit.Values{
			{Name: fmt.Sprintf("bare spawns, %d at once", conc), Unit: "runs/s"},
			{Name: fmt.Sprintf("served /v1/runs, %d at once", conc), Unit: "runs/s"},
		}
		fs := []func() error{bare.Run, post}
		for r := 0; r < max(3, n/10); r++ {
			for i := range sides {
				load := benchkit.Load1()
				d, err := throughput(conc, runs, fs[i])
				if err != nil {
					return fmt.Errorf("%s: %w", sides[i].Name, err)
				}
				sides[i].Add(float64(runs)/d.Seconds(), load)
			}
		}
		benchkit.ReportValues(env.stdout, fmt.Sprintf("throughput-c%d: python print(1), %d runs per round, default serve stack vs bare spawns", conc, runs), sides)
		return nil
	}
}
