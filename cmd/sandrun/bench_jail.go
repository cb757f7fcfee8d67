package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/internal/benchkit"
	"github.com/sandrun/sandrun/lang"
)

// benchJail measures the jail tier as a long-lived sandrun runs it (one
// init prestarted, see jail.Options.Prestart) against a bare interpreter
// spawn, in the same run, interleaved (docs/performance: <= 1.15x).
func benchJail(ctx context.Context, env *cliEnv, a *app, n int) error {
	return benchVsBare(ctx, env, a, n, "jail", "jail tier (1 init prestarted) vs bare spawn, python print(1)")
}

// benchJailCold is the library's cold jail: every init cloned on demand
// (no prestart), as a one-shot `sandrun run` does, against the same real
// interpreter run bare (issue 11: <= 1.15x).
func benchJailCold(ctx context.Context, env *cliEnv, a *app, n int) error {
	bare, err := bareSpawn(ctx, a, lang.Python, "print(1)")
	if err != nil {
		return err
	}
	jl, err := jail.New(jail.Options{Languages: a.langs})
	if err != nil {
		return err
	}
	defer jl.Close()
	var setup []int64
	cold := benchkit.Case{Name: "jail (cold)", Run: func() error {
		// The jail is driven directly here, so the limits are resolved
		// here, as the Sandbox would.
		req := &sandrun.Request{Language: lang.Python, Code: "print(1)", Limits: sandrun.DefaultLimits()}
		res, err := jl.Run(ctx, req)
		if err := runOK(res, err); err != nil {
			return err
		}
		setup = append(setup, res.Usage.SetupMs)
		return nil
	}}
	s, err := benchkit.Interleave(n, 3, bare, cold)
	if err != nil {
		return err
	}
	benchkit.Report(env.stdout, "jail-cold: library jail, init cloned per run (no prestart), vs the real interpreter bare, python print(1)", s)
	fmt.Fprintf(env.stdout, "jail usage.setup_ms median %d\n", medianInt(setup))
	return nil
}

// benchCLIJail is what a user types: `sandrun run --backend jail` as a
// new process each time (language discovery included: the disk cache's
// stats, or a probe when it is cold), against the same real interpreter
// run bare (never a version manager's shim) (issue 11: <= 1.3x). The CLI
// keeps its audit log in a private state directory, so another sandrun
// on the host cannot change what is measured.
func benchCLIJail(ctx context.Context, env *cliEnv, a *app, n int) error {
	bare, err := bareSpawn(ctx, a, lang.Python, "print(1)")
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	state, err := os.MkdirTemp("", "sandrun-bench-cli-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(state)
	cliEnv := append(os.Environ(), "XDG_STATE_HOME="+state)
	cli := benchkit.Case{Name: "sandrun run --backend jail", Run: func() error {
		cmd := exec.CommandContext(ctx, self, "run", "--backend", "jail", "--lang", lang.Python, "-c", "print(1)")
		cmd.Env = cliEnv
		var errb strings.Builder
		cmd.Stderr = &errb
		out, err := cmd.Output()
		if err != nil || string(out) != "1\n" {
			return fmt.Errorf("%v: stdout %q, stderr %q", err, out, errb.String())
		}
		return nil
	}}
	s, err := benchkit.Interleave(n, 3, bare, cli)
	if err != nil {
		return err
	}
	benchkit.Report(env.stdout, "cli-jail: one-shot CLI `sandrun run --backend jail --lang python -c 'print(1)'` vs the real interpreter bare", s)
	return nil
}

func medianInt(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	c := slices.Clone(v)
	slices.Sort(c)
	return c[len(c)/2]
}
