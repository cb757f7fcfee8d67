package pool_test

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/lang"
	"github.com/sandrun/sandrun/pool"
	"github.com/sandrun/sandrun/session"
	"github.com/sandrun/sandrun/session/sessiontest"
)

// The baseline of the pool's figures (docs/performance): a bare,
// unsandboxed interpreter start. `sandrun bench --only pool` measures the
// same cases interleaved in one run, which is the figure to quote; these
// are for quick profiling with `go test -bench`.
func BenchmarkBareSpawn(b *testing.B) {
	l, err := lang.NewRegistry(lang.Options{}).Lookup(context.Background(), "python")
	if err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		if err := exec.Command(l.Interpreter, "-c", "print(1)").Run(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPool(b *testing.B) {
	for _, name := range sessiontest.Backends() {
		b.Run(name, func(b *testing.B) {
			p, err := pool.New(pool.Config{Launcher: sessiontest.Launcher(b, name), Sizes: map[string]int{"python": 4}})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			for b.Loop() {
				b.StopTimer()
				for p.Stats().Ready["python"] < 4 {
					time.Sleep(2 * time.Millisecond)
				}
				b.StartTimer()
				res, err := p.Run(context.Background(), &sandrun.Request{Language: "python", Code: "print(1)", Limits: sandrun.DefaultLimits()})
				if err != nil || res.Status != sandrun.StatusOK {
					b.Fatal(err, res)
				}
			}
		})
	}
}

func BenchmarkSessionStep(b *testing.B) {
	for _, name := range sessiontest.Backends() {
		b.Run(name, func(b *testing.B) {
			m, err := session.New(session.Options{Sandbox: sessiontest.Sandbox(b, sandrun.Options{}), Launchers: map[string]sandrun.Launcher{name: sessiontest.Launcher(b, name)}})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Shutdown()
			in, err := m.Create(context.Background(), session.Spec{Language: "python"})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				res, err := m.Run(context.Background(), in.ID, session.RunRequest{Code: "print(1)"})
				if err != nil || res.Status != sandrun.StatusOK {
					b.Fatal(err, res)
				}
			}
		})
	}
}
