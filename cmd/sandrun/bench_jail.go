package main

import (
	"context"
	"fmt"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/internal/benchkit"
	"github.com/sandrun/sandrun/lang"
)

// benchJail measures the jail tier as a long-lived sandrun runs it (one
// init prestarted, see jail.Options.Prestart) against a bare interpreter
// spawn, in the same run, interleaved (docs/performance: <= 1.15x).
func benchJail(ctx context.Context, env *cliEnv, a *app, n int) error {
	bare, err := bareSpawn(ctx, a, lang.Python, "print(1)")
	if err != nil {
		return err
	}
	s, err := benchkit.Interleave(n, 3, bare, tierCase(ctx, a, "jail", lang.Python, "print(1)"))
	if err != nil {
		return err
	}
	benchkit.Report(env.stdout, "jail tier (1 init prestarted) vs bare spawn, python print(1)", s)
	return nil
}

// benchJailCold is the same with every init cloned on demand, as a
// one-shot `sandrun run` does.
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
	cold := benchkit.Case{Name: "jail (cold)", Run: func() error {
		// The jail is driven directly here, so the limits are resolved
		// here, as the Sandbox would.
		req := &sandrun.Request{Language: lang.Python, Code: "print(1)", Limits: sandrun.DefaultLimits()}
		res, err := jl.Run(ctx, req)
		if err != nil {
			return err
		}
		if res.Status != sandrun.StatusOK {
			return fmt.Errorf("status %s: %s", res.Status, res.Error)
		}
		return nil
	}}
	s, err := benchkit.Interleave(n, 3, bare, cold)
	if err != nil {
		return err
	}
	benchkit.Report(env.stdout, "jail tier (cold: init cloned per run) vs bare spawn, python print(1)", s)
	return nil
}
