package main

import (
	"context"
	"fmt"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/benchkit"
	"github.com/sandrun/sandrun/lang"
	"github.com/sandrun/sandrun/pool"
	"github.com/sandrun/sandrun/session"
)

// benchPool measures, in one run and interleaved, python print(1)
// through the warm pool and as one step of a live session, against a bare
// `python3 -c 'print(1)'` spawn (docs/performance: pool <= 0.5x), then
// throughput at concurrency 2 (pool >= 2x bare spawns).
//
// Before each latency case the pool is refilled and used interpreters
// destroyed, untimed, so that this background work does not compete with
// the measured case for the CPU; the throughput figure includes all of it.
func benchPool(ctx context.Context, env *cliEnv, a *app, n int) error {
	ls, order := sessionLaunchers(a)
	tier := ""
	for _, name := range order {
		if b, _ := a.sandbox.Backend(name); b != nil && b.Check(ctx, lang.Python) == nil {
			tier = name
			break
		}
	}
	if tier == "" {
		return fmt.Errorf("no backend can host python interpreters here")
	}
	const size = 4
	p, err := pool.New(pool.Config{Launcher: ls[tier], Tier: tier, Sizes: map[string]int{lang.Python: size}})
	if err != nil {
		return err
	}
	defer p.Close()
	m, err := session.New(session.Options{Sandbox: a.sandbox, Launchers: map[string]sandrun.Launcher{tier: ls[tier]}})
	if err != nil {
		return err
	}
	defer m.Shutdown()
	in, err := m.Create(ctx, session.Spec{Language: lang.Python, Backend: tier})
	if err != nil {
		return err
	}
	bare, err := bareSpawn(ctx, a, lang.Python, "print(1)")
	if err != nil {
		return err
	}
	req := func() *sandrun.Request {
		return &sandrun.Request{Language: lang.Python, Code: "print(1)", Limits: sandrun.DefaultLimits()}
	}
	pooled := benchkit.Case{Name: "pool (" + tier + ")", Run: func() error { return okResult(p.Run(ctx, req())) }}
	step := benchkit.Case{Name: "session step (" + tier + ")", Run: func() error {
		return okResult(m.Run(ctx, in.ID, session.RunRequest{Code: "print(1)"}))
	}}
	settle := func() error { return waitFull(ctx, p, size) }

	cases := []benchkit.Case{bare, pooled, step}
	series := make([]benchkit.Series, len(cases))
	for i, c := range cases {
		series[i].Name = c.Name
	}
	const warm = 3
	for r := 0; r < warm+n; r++ {
		for i, c := range cases {
			if err := settle(); err != nil {
				return err
			}
			t0 := time.Now()
			if err := c.Run(); err != nil {
				return fmt.Errorf("%s: %w", c.Name, err)
			}
			if r >= warm {
				series[i].Samples = append(series[i].Samples, time.Since(t0))
			}
		}
	}
	benchkit.Report(env.stdout, "pool and session step vs bare spawn, python print(1) (pool refilled between cases, untimed)", series)

	// Throughput at concurrency 2, each side for the same number of runs;
	// the pool's figure pays for every refill.
	if err := settle(); err != nil {
		return err
	}
	runs := max(2*n, 20)
	bareT, err := throughput(2, runs, bare.Run)
	if err != nil {
		return err
	}
	poolT, err := throughput(2, runs, pooled.Run)
	if err != nil {
		return err
	}
	st := p.Stats()
	fmt.Fprintf(env.stdout, "\nthroughput at concurrency 2, %d runs each (%s; pool of %d, hits %d, misses %d)\n", runs, benchkit.Machine(), size, st.Hits, st.Misses)
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\twall\truns/s\tratio\t")
	base := float64(runs) / bareT.Seconds()
	for _, r := range []struct {
		name string
		d    time.Duration
	}{{bare.Name, bareT}, {pooled.Name, poolT}} {
		rate := float64(runs) / r.d.Seconds()
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.2fx\t\n", r.name, r.d.Round(time.Millisecond), rate, rate/base)
	}
	return tw.Flush()
}

func okResult(res *sandrun.Result, err error) error {
	if err != nil {
		return err
	}
	if res.Status != sandrun.StatusOK || res.Stdout != "1\n" {
		return fmt.Errorf("status %s stdout %q: %s", res.Status, res.Stdout, res.Error)
	}
	return nil
}

func waitFull(ctx context.Context, p *pool.Pool, size int) error {
	deadline := time.Now().Add(time.Minute)
	for st := p.Stats(); st.Ready[lang.Python] < size || st.Retiring > 0; st = p.Stats() {
		if time.Now().After(deadline) {
			return fmt.Errorf("the pool did not refill within a minute: %+v", p.Stats())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// throughput runs f runs times over conc workers and returns the wall time.
func throughput(conc, runs int, f func() error) (time.Duration, error) {
	var wg sync.WaitGroup
	errs := make(chan error, conc)
	next := make(chan struct{}, runs)
	for range runs {
		next <- struct{}{}
	}
	close(next)
	t0 := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				if err := f(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return time.Since(t0), <-errs
}
