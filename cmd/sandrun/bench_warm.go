package main

import (
	"context"
	"fmt"
	"time"

	"github.com/sandrun/sandrun/internal/benchkit"
	"github.com/sandrun/sandrun/lang"
)

// benchWarm measures the jail's warm path in the library, interleaved:
// python print(1) in a zygote's child against a cold jail (a prestarted
// init) and against one bare spawn of the real interpreter. The app is
// built as serve builds it (warm path on, sized from the host).
func benchWarm(ctx context.Context, env *cliEnv, a *app, n int) error {
	bare, err := bareSpawn(ctx, a, lang.Python, "print(1)")
	if err != nil {
		return err
	}
	wa, err := newApp(ctx, config{jailPrestart: 1, warm: true})
	if err != nil {
		return err
	}
	defer wa.Close()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := wa.jail.WarmReady(wctx, lang.Python); err != nil {
		return err
	}
	warm := tierCase(ctx, wa, "jail", lang.Python, "print(1)")
	warm.Name = "jail, warm (zygote's child)"
	cold := tierCase(ctx, a, "jail", lang.Python, "print(1)")
	cold.Name = "jail, cold (prestarted init)"
	before := wa.jail.WarmStats()
	s, err := benchkit.Interleave(n, 3, bare, warm, cold)
	if err != nil {
		return err
	}
	benchkit.Report(env.stdout, "warm: python print(1) through the jail's warm path vs a cold jail vs a bare spawn", s)
	after := wa.jail.WarmStats()
	fmt.Fprintf(env.stdout, "warm runs forked %d, ran cold %d\n", after.Forked-before.Forked, after.Fallbacks-before.Fallbacks)
	return nil
}
