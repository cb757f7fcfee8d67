package main

import (
	"context"
	"fmt"
	"time"

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
	cold := tierCase(ctx, a, "jail", lang.PythonData, code)
	cold.Name = "jail, cold"
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
		warm := tierCase(ctx, wa, "jail", lang.PythonData, code)
		warm.Name = "jail, warm (zygote's child)"
		cases, warmOK = append(cases, warm), true
	}
	before := wa.jail.WarmStats()
	s, err := benchkit.Interleave(n, 3, cases...)
	if err != nil {
		return err
	}
	benchkit.Report(env.stdout, "data: python-data `"+code+"` in the jail (cold, warm) vs a bare spawn of "+bare.Name[len("bare "):], s)
	if warmOK {
		after := wa.jail.WarmStats()
		fmt.Fprintf(env.stdout, "warm gain: %.1fx faster than cold, %.2fx of a bare spawn (warm runs forked %d, ran cold %d)\n",
			benchkit.Ratio(s[1].Median(), s[2].Median()), benchkit.Ratio(s[2].Median(), s[0].Median()), after.Forked-before.Forked, after.Fallbacks-before.Fallbacks)
	}
	return nil
}
