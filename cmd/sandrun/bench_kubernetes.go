package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/kubernetes"
	"github.com/sandrun/sandrun/internal/benchkit"
	"github.com/sandrun/sandrun/lang"
)

// benchKubernetes: a run that claims a warm pod against a run that makes
// a cold one (scheduling, sandbox, image and container start), python
// print(1), end to end through the tier, interleaved. The cluster is the
// one SANDRUN_KUBE* names; the bench keeps its own pool of 2 warm pods.
func benchKubernetes(ctx context.Context, env *cliEnv, a *app, n int) error {
	o, err := kubernetes.OptionsFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	o.Pool = map[string]int{lang.Python: 2}
	b := kubernetes.New(o)
	defer b.Close()
	if err := b.Check(ctx, lang.Python); err != nil {
		return err
	}
	for end := time.Now().Add(3 * time.Minute); b.ReadyWarm(lang.Python) < 2; {
		if time.Now().After(end) {
			return fmt.Errorf("the warm pool did not fill in 3 minutes: %v", b.Check(ctx, lang.Python))
		}
		time.Sleep(100 * time.Millisecond)
	}
	run := func(lim sandrun.Limits) func() error {
		return func() error {
			req := &sandrun.Request{Language: lang.Python, Code: "print(1)", Limits: lim.WithDefaults()}
			res, err := b.Run(ctx, req)
			if err != nil {
				return err
			}
			if res.Status != sandrun.StatusOK || res.Stdout != "1\n" {
				return fmt.Errorf("status %s %q: %s", res.Status, res.Stdout, res.Error)
			}
			return nil
		}
	}
	// A memory limit other than the default: no warm pod has that shape.
	cold := benchkit.Case{Name: "cold pod", Run: run(sandrun.Limits{Memory: sandrun.DefaultLimits().Memory - 1<<20})}
	// The pool refills in the background while the cold run between two
	// warm ones goes on; RunCounts below proves every warm-case run got a
	// warm pod.
	warm := benchkit.Case{Name: "warm pool", Run: run(sandrun.Limits{})}
	load0 := loadavg()
	s, err := benchkit.Interleave(n, 2, cold, warm)
	if err != nil {
		return err
	}
	w, c := b.RunCounts()
	if want := int64(n + 2); w != want {
		return fmt.Errorf("only %d of %d warm-case runs got a warm pod (the pool did not keep up): the figures would mix both", w, want)
	}
	benchkit.Report(env.stdout, "kubernetes tier: warm pool vs cold pod, python print(1)", s)
	fmt.Fprintf(env.stdout, "runs: %d warm, %d cold; load average before %s, after %s\n", w, c, load0, loadavg())
	return nil
}

// loadavg is the host's 1, 5 and 15 minute load averages.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
