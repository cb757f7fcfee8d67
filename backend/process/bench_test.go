package process_test

import (
	"context"
	"os/exec"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/lang"
)

// BenchmarkSpawn compares a bare interpreter spawn with the process tier
// for print(1). Compare the two sub-benchmarks' ns/op (benchstat); the
// target is process <= 1.05x bare.
func BenchmarkSpawn(b *testing.B) {
	l, err := lang.NewRegistry(lang.Options{}).Lookup(context.Background(), "python")
	if err != nil {
		b.Skip(err)
	}
	b.Run("bare", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := exec.Command(l.Interpreter, "-c", "print(1)").Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
	sb, _ := newSandbox(b)
	b.Run("process", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			res, err := sb.Run(context.Background(), &sandrun.Request{Language: "python", Code: "print(1)", Backend: "process"})
			if err != nil || res.Status != sandrun.StatusOK {
				b.Fatalf("%v %+v", err, res)
			}
		}
	})
}
