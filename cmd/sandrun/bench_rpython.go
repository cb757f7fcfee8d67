package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/restricted"
	"github.com/sandrun/sandrun/internal/benchkit"
	"github.com/sandrun/sandrun/internal/pypolicy"
	"github.com/sandrun/sandrun/lang"
)

// benchRPython measures restricted python as served: print(1) through
// /v1/runs on the restricted tier (a guest child of the jail's warm path,
// under the policy), against a bare spawn of the real interpreter, with
// the full warm child (every per-run namespace) served the same way and
// restricted python through the Go API beside it, interleaved (each round
// in an order of its own). The issue's
// target is served restricted python at <= 0.1x a bare spawn.
func benchRPython(ctx context.Context, env *cliEnv, _ *app, n int) error {
	wa, err := newApp(ctx, config{jailPrestart: 1, warm: true})
	if err != nil {
		return err
	}
	defer wa.Close()
	bare, err := bareSpawn(ctx, wa, lang.Python, "print(1)")
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := wa.jail.GuestReady(wctx, pypolicy.GuestName); err != nil {
		return err
	}
	if err := wa.jail.WarmReady(wctx, lang.Python); err != nil {
		return err
	}
	url, stop, err := benchListen(ctx, wa, 4)
	if err != nil {
		return err
	}
	defer stop()
	client := &http.Client{Timeout: time.Minute}
	served := func(name, backend string) benchkit.Case {
		body, _ := json.Marshal(sandrun.Request{Language: lang.Python, Code: "print(1)", Backend: backend})
		return benchkit.Case{Name: name, Run: func() error {
			resp, err := client.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var res sandrun.Result
			if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != 200 || res.Status != sandrun.StatusOK || res.Stdout != "1\n" {
				return fmt.Errorf("HTTP %d, status %s: %s", resp.StatusCode, res.Status, res.Error)
			}
			return nil
		}}
	}
	rest := served("served restricted python", restricted.Name)
	full := served("served jail, warm full child", "jail")
	goAPI := tierCase(ctx, wa, restricted.Name, lang.Python, "print(1)")
	goAPI.Name = "restricted python, Go API"
	load0 := loadavg()
	// Each round in an order of its own: in a fixed one, whatever came
	// right after the bare spawn (27 ms of one CPU, the other idle) paid
	// about a millisecond more for waking the idle CPU up, on every
	// round (docs/guide/restricted.md).
	s, err := benchkit.InterleaveShuffled(n, 3, bare, rest, full, goAPI)
	if err != nil {
		return err
	}
	benchkit.Report(env.stdout, "rpython: served restricted python print(1) vs a bare python spawn", s)
	fmt.Fprintf(env.stdout, "served restricted python p50 = %.3fx a bare spawn (target <= 0.1x); p90 %v; load average before %s, after %s\n",
		benchkit.Ratio(s[1].Median(), s[0].Median()), s[1].P(0.9).Round(10*time.Microsecond), load0, loadavg())
	return nil
}
