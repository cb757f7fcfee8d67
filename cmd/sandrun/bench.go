package main

import (
	"context"
	"flag"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/benchkit"
	"github.com/sandrun/sandrun/lang"
)

// benchScenario measures one figure of docs/performance against its
// baseline in the same run. Each tier adds its scenario in its own file
// and one line in benchScenarios.
type benchScenario func(ctx context.Context, env *cliEnv, a *app, n int) error

func benchScenarios() map[string]benchScenario {
	return map[string]benchScenario{
		"process":       benchProcess,
		"server":        benchServer,
		"restricted":    benchRestricted,
		"jail":          benchJail,
		"jail-cold":     benchJailCold,
		"cli-jail":      benchCLIJail,
		"cpu-fair":      benchCPUFair,
		"served":        benchServed,
		"throughput-c2": benchThroughput(2),
		"throughput-c8": benchThroughput(8),
		"pool":          benchPool,
		"warm":          benchWarm,
		"data":          benchData,
		"docker":        benchDocker,
		"gvisor":        benchGvisor,
		"kubernetes":    benchKubernetes,
		"proxy":         benchProxy,
		"rpython":       benchRPython,
	}
}

func cmdBench(ctx context.Context, env *cliEnv, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	n := fs.Int("n", 30, "timed iterations per case (after 3 warm-up rounds)")
	scen := benchScenarios()
	var names []string
	for k := range scen {
		names = append(names, k)
	}
	sort.Strings(names)
	only := fs.String("only", "", "comma-separated scenarios to run (default: all that this host supports): "+strings.Join(names, ", "))
	if err := fs.Parse(args); err != nil {
		return &usageError{err: err}
	}
	a, err := newApp(ctx, config{jailPrestart: 1})
	if err != nil {
		return err
	}
	defer a.Close()
	sel := names
	if *only != "" {
		sel = strings.Split(*only, ",")
	}
	for _, s := range sel {
		f, ok := scen[s]
		if !ok {
			return &usageError{msg: fmt.Sprintf("unknown scenario %q (have %s)", s, strings.Join(names, ", "))}
		}
		if err := f(ctx, env, a, *n); err != nil {
			fmt.Fprintf(env.stderr, "bench %s: %v\n", s, err)
		}
		fmt.Fprintln(env.stdout)
	}
	return nil
}

// bareSpawn is the baseline every tier is compared with: the interpreter
// started directly, unsandboxed.
func bareSpawn(ctx context.Context, a *app, language, code string) (benchkit.Case, error) {
	l, err := a.langs.Lookup(ctx, language)
	if err != nil {
		return benchkit.Case{}, err
	}
	flagFor := map[string]string{lang.Python: "-c", lang.JavaScript: "-e", lang.Bash: "-c"}
	return benchkit.Case{Name: "bare " + filepath.Base(l.Interpreter), Run: func() error {
		cmd := exec.CommandContext(ctx, l.Interpreter, flagFor[lang.Base(language)], code)
		// A session of its own: with the scheduler's autogroups, a child in
		// this command's session would share one CPU weight with it (and
		// with every other bare spawn), while a sandboxed run has a
		// cgroup's; on a loaded host that, not speed, would decide.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		return cmd.Run()
	}}, nil
}

// tierCase runs code through the Sandbox on one backend.
func tierCase(ctx context.Context, a *app, backend, language, code string) benchkit.Case {
	return benchkit.Case{Name: backend, Run: func() error {
		return runOK(a.sandbox.Run(ctx, &sandrun.Request{Language: language, Code: code, Backend: backend}))
	}}
}

// runOK is a benchmarked run's error: the run's own, or its status when
// that is not ok.
func runOK(res *sandrun.Result, err error) error {
	if err == nil && res.Status != sandrun.StatusOK {
		err = fmt.Errorf("status %s: %s", res.Status, res.Error)
	}
	return err
}

func benchProcess(ctx context.Context, env *cliEnv, a *app, n int) error {
	return benchVsBare(ctx, env, a, n, "process", "process tier vs bare spawn, python print(1)")
}

// benchVsBare reports python print(1) on backend against a bare spawn,
// interleaved.
func benchVsBare(ctx context.Context, env *cliEnv, a *app, n int, backend, title string) error {
	bare, err := bareSpawn(ctx, a, lang.Python, "print(1)")
	if err != nil {
		return err
	}
	s, err := benchkit.Interleave(n, 3, bare, tierCase(ctx, a, backend, lang.Python, "print(1)"))
	if err != nil {
		return err
	}
	benchkit.Report(env.stdout, title, s)
	return nil
}
