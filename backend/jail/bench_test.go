//go:build linux

package jail_test

import (
	"context"
	"os/exec"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/internal/benchkit"
	"github.com/sandrun/sandrun/lang"
)

// BenchmarkJailVsBare times a jailed python print(1) against a bare spawn
// of the same interpreter, interleaved in the same run, and reports the
// ratio of medians (docs/performance: target <= 1.15x). Each b.N round is
// one bare and one jailed run.
//
//	go test -run '^$' -bench JailVsBare -benchtime 30x ./backend/jail
func BenchmarkJailVsBare(b *testing.B) {
	for _, c := range []struct {
		name     string
		prestart int
	}{{"cold", 0}, {"prestart", 1}} {
		b.Run(c.name, func(b *testing.B) {
			reg := lang.NewRegistry(lang.Options{})
			jl, err := jail.New(jail.Options{Languages: reg, Prestart: c.prestart})
			if err != nil {
				b.Fatal(err)
			}
			defer jl.Close()
			ctx := context.Background()
			if err := jl.Check(ctx, "python"); err != nil {
				skip(b, "jail unavailable: %v", err)
			}
			l, _ := reg.Lookup(ctx, "python")
			bare := benchkit.Case{Name: "bare", Run: func() error { return exec.Command(l.Interpreter, "-c", "print(1)").Run() }}
			jailed := benchkit.Case{Name: "jail", Run: func() error {
				req := &sandrun.Request{Language: "python", Code: "print(1)"}
				req.Limits = req.Limits.WithDefaults()
				res, err := jl.Run(ctx, req)
				if err == nil && res.Status != sandrun.StatusOK {
					b.Fatalf("%s: %s", res.Status, res.Error)
				}
				return err
			}}
			b.ResetTimer()
			s, err := benchkit.Interleave(b.N, 1, bare, jailed)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(s[0].Median().Microseconds())/1000, "bare-ms")
			b.ReportMetric(float64(s[1].Median().Microseconds())/1000, "jail-ms")
			b.ReportMetric(benchkit.Ratio(s[1].Median(), s[0].Median()), "ratio")
		})
	}
}
