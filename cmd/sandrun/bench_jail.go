package main

import (
	"context"

	"github.com/sandrun/sandrun/internal/benchkit"
)

// benchJail measures the jail tier against a bare interpreter spawn, in
// the same run, interleaved (docs/performance: target <= 1.15x).
func benchJail(ctx context.Context, env *cliEnv, a *app, n int) error {
	bare, err := bareSpawn(ctx, a, "python", "print(1)")
	if err != nil {
		return err
	}
	s, err := benchkit.Interleave(n, 3, bare, tierCase(ctx, a, "jail", "python", "print(1)"))
	if err != nil {
		return err
	}
	benchkit.Report(env.stdout, "jail tier vs bare spawn, python print(1)", s)
	return nil
}
