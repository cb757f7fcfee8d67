package main

import (
	"context"
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/benchkit"
	"github.com/sandrun/sandrun/lang"
)

// cpuFairRuns and cpuFairSpin: each round starts this many CPU-bound
// programs at once, each spinning for this long on the wall clock.
const (
	cpuFairRuns = 4
	cpuFairSpin = 2 * time.Second
)

// benchCPUFair: with two busy loops running on the host outside sandrun,
// four concurrent CPU-bound runs of the same wall time on the jail, on
// the process tier, and as plain processes (the real interpreter, bare):
// the CPU time each side received (issue 11: the jail >= 0.8x the process
// tier). Rounds are interleaved; a round costs a few seconds, so there are
// n/6 of them (at least 3).
//
// The host loops and the plain processes each run in a session of their
// own: with the scheduler's autogroups (sched_autogroup_enabled), tasks
// of the root cgroup share one weight per session, so a plain process
// started in this command's session would share one weight with the
// loops and the command itself, and tell nothing about a plain process.
func benchCPUFair(ctx context.Context, env *cliEnv, a *app, n int) error {
	l, err := a.langs.Lookup(ctx, lang.Python)
	if err != nil {
		return err
	}
	code := fmt.Sprintf("import time\nd = time.time() + %g\nwhile time.time() < d:\n    pass\n", cpuFairSpin.Seconds())
	// The host's load: two busy loops that are not sandrun's.
	for i := 0; i < 2; i++ {
		loop := exec.Command("/bin/sh", "-c", "while :; do :; done")
		loop.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := loop.Start(); err != nil {
			return err
		}
		defer func() { _ = loop.Process.Kill(); _ = loop.Wait() }()
	}
	tier := func(backend string) func() (time.Duration, error) {
		return func() (time.Duration, error) {
			return concurrently(cpuFairRuns, func() (time.Duration, error) {
				req := &sandrun.Request{Language: lang.Python, Code: code, Backend: backend,
					Limits: sandrun.Limits{WallTime: sandrun.Duration(time.Minute), CPUTime: sandrun.Duration(time.Minute)}}
				res, err := a.sandbox.Run(ctx, req)
				if err := runOK(res, err); err != nil {
					return 0, fmt.Errorf("%s: %w", backend, err)
				}
				return time.Duration(res.Usage.CPUMs) * time.Millisecond, nil
			})
		}
	}
	bare := func() (time.Duration, error) {
		return concurrently(cpuFairRuns, func() (time.Duration, error) {
			cmd := exec.CommandContext(ctx, l.Interpreter, "-c", code)
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
			if err := cmd.Run(); err != nil {
				return 0, fmt.Errorf("bare: %w", err)
			}
			ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
			return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
		})
	}
	sides := []struct {
		v   benchkit.Values
		run func() (time.Duration, error)
	}{
		{benchkit.Values{Name: "process tier", Unit: "ms"}, tier("process")},
		{benchkit.Values{Name: "jail", Unit: "ms"}, tier("jail")},
		{benchkit.Values{Name: "plain processes (bare)", Unit: "ms"}, bare},
	}
	rounds := max(3, n/6)
	for r := 0; r < rounds; r++ {
		for i := range sides {
			load := benchkit.Load1()
			cpu, err := sides[i].run()
			if err != nil {
				return err
			}
			sides[i].v.Add(float64(cpu.Milliseconds()), load)
		}
	}
	vs := []benchkit.Values{sides[0].v, sides[1].v, sides[2].v}
	benchkit.ReportValues(env.stdout, fmt.Sprintf("cpu-fair: CPU time received by %d concurrent %v busy loops (python) beside two host busy loops (own sessions); more is better", cpuFairRuns, cpuFairSpin), vs)
	if b := vs[2].Median(); b > 0 {
		fmt.Fprintf(env.stdout, "jail vs plain processes: %.2fx\n", vs[1].Median()/b)
	}
	return nil
}

// concurrently runs f n times at once and sums what they return; the
// first error wins.
func concurrently(n int, f func() (time.Duration, error)) (time.Duration, error) {
	var (
		mu    sync.Mutex
		total time.Duration
		first error
		wg    sync.WaitGroup
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := f()
			mu.Lock()
			defer mu.Unlock()
			total += d
			if err != nil && first == nil {
				first = err
			}
		}()
	}
	wg.Wait()
	return total, first
}
