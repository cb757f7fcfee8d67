package main

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/benchkit"
	"github.com/sandrun/sandrun/lang"
)

// benchData measures the data runtime's start (issue 18), interleaved:
// `import pandas, matplotlib` in the jail, cold (a prestarted init, the
// interpreter imports everything) and warm (a zygote's child: the
// zygote imported them before forking), against a bare spawn of the same
// real interpreter (Debian's /usr/bin/python3, resolved: never a shim)
// doing the same imports. The warm app is built as serve builds it.
func benchData(ctx context.Context, env *cliEnv, a *app, n int) error {
	const code = "import pandas, matplotlib"
	bare, err := bareSpawn(ctx, a, lang.PythonData, code)
	if err != nil {
		return err
	}
	// CPU time beside wall time: on a loaded host the wall time says as
	// much about the scheduler's shares (a cgroup's weight, a session's
	// autogroup) as about the work.
	cpu := map[string][]time.Duration{}
	bareRun := bare.Run
	bare.Run = func() error {
		var ru syscall.Rusage
		before := childCPU(&ru)
		err := bareRun()
		cpu[bare.Name] = append(cpu[bare.Name], childCPU(&ru)-before)
		return err
	}
	cold := cpuCase(ctx, a, "jail, cold", code, cpu)
	cases := []benchkit.Case{bare, cold}
	wa, err := newApp(ctx, config{jailPrestart: 1, warm: true})
	if err != nil {
		return err
	}
	defer wa.Close()
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	warmOK := false
	if err := wa.jail.WarmReady(wctx, lang.PythonData); err != nil {
		fmt.Fprintf(env.stderr, "bench data: no warm path here (%v): cold and bare only\n", err)
	} else {
		cases, warmOK = append(cases, cpuCase(ctx, wa, "jail, warm (zygote's child)", code, cpu)), true
	}
	before := wa.jail.WarmStats()
	s, err := benchkit.Interleave(n, 3, cases...)
	if err != nil {
		return err
	}
	benchkit.Report(env.stdout, "data: python-data `"+code+"` in the jail (cold, warm) vs a bare spawn of "+bare.Name[len("bare "):], s)
	for _, c := range cases {
		fmt.Fprintf(env.stdout, "cpu %s: median %s\n", c.Name, benchkit.Series{Samples: cpu[c.Name]}.Median().Round(time.Millisecond))
	}
	if warmOK {
		after := wa.jail.WarmStats()
		fmt.Fprintf(env.stdout, "warm gain: %.1fx faster than cold, %.2fx of a bare spawn (warm runs forked %d, ran cold %d)\n",
			benchkit.Ratio(s[1].Median(), s[2].Median()), benchkit.Ratio(s[2].Median(), s[0].Median()), after.Forked-before.Forked, after.Fallbacks-before.Fallbacks)
	}
	return nil
}

// cpuCase runs code on the jail through the Sandbox and keeps the CPU
// time the run reported.
func cpuCase(ctx context.Context, a *app, name, code string, cpu map[string][]time.Duration) benchkit.Case {
	return benchkit.Case{Name: name, Run: func() error {
		res, err := a.sandbox.Run(ctx, &sandrun.Request{Language: lang.PythonData, Code: code, Backend: "jail"})
		if err := runOK(res, err); err != nil {
			return err
		}
		cpu[name] = append(cpu[name], time.Duration(res.Usage.CPUMs)*time.Millisecond)
		return nil
	}}
}

// childCPU is the user and system time of this process's waited-for
// children so far.
func childCPU(ru *syscall.Rusage) time.Duration {
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
