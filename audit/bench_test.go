package audit_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/audit"
)

// BenchmarkSandboxRun measures what the audit log adds to a run: the same
// Sandbox.Run on a backend that costs nothing, without a recorder (the
// baseline) and with each store, warm (a server's case). Compare the
// sub-benchmarks' ns/op; run them in one invocation, e.g.
//
//	go test -run '^$' -bench SandboxRun -count 5 ./audit
func BenchmarkSandboxRun(b *testing.B) {
	req := &sandrun.Request{Language: "python", Code: "print('hello')"}
	run := func(b *testing.B, rec sandrun.Recorder) {
		opts := sandrun.Options{Backends: []sandrun.Backend{fakeBackend{}}}
		if rec != nil {
			opts.Recorder = rec
		}
		sb, err := sandrun.New(opts)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		for b.Loop() {
			if _, err := sb.Run(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
		if sb.AuditErrors() != 0 {
			b.Fatalf("%d audit errors", sb.AuditErrors())
		}
	}
	b.Run("baseline-no-audit", func(b *testing.B) { run(b, nil) })
	b.Run("sqlite", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "audit.db")
		log, err := audit.New(audit.Options{Open: func(ctx context.Context) (audit.Store, error) {
			return audit.OpenSQLite(ctx, audit.SQLiteOptions{Path: path})
		}})
		if err != nil {
			b.Fatal(err)
		}
		defer log.Close()
		run(b, log)
	})
	b.Run("postgres", func(b *testing.B) {
		dsn := os.Getenv("SANDRUN_TEST_PG_DSN")
		if dsn == "" {
			b.Skip("SANDRUN_TEST_PG_DSN is not set")
		}
		log, err := audit.New(audit.Options{Open: func(ctx context.Context) (audit.Store, error) {
			return audit.OpenPostgres(ctx, audit.PostgresOptions{DSN: dsn})
		}})
		if err != nil {
			b.Fatal(err)
		}
		defer log.Close()
		run(b, log)
	})
}

// BenchmarkCLIRecord is the CLI's case: each `sandrun run` process opens
// the existing SQLite file, checks its schema, writes one entry, prunes
// and closes.
func BenchmarkCLIRecord(b *testing.B) {
	path := filepath.Join(b.TempDir(), "audit.db")
	req := &sandrun.Request{Language: "python", Code: "print('hello')"}
	ctx := context.Background()
	for b.Loop() {
		log, err := audit.New(audit.Options{
			Open: func(ctx context.Context) (audit.Store, error) {
				return audit.OpenSQLite(ctx, audit.SQLiteOptions{Path: path})
			},
			Retention: audit.Retention{MaxRuns: 100000, MaxAge: 90 * 24 * 3600e9},
		})
		if err != nil {
			b.Fatal(err)
		}
		res := &sandrun.Result{ID: sandrun.NewID(), Status: sandrun.StatusOK, CodeSHA256: "x"}
		if err := log.Record(ctx, req, res); err != nil {
			b.Fatal(err)
		}
		log.Close()
	}
}

// BenchmarkCLIRun is what every `sandrun run` process does with the log,
// on a log that already holds runs: open it in the background, begin the
// run's record, complete it, close. Its CPU per op is what the audit log
// adds to a one-shot run.
func BenchmarkCLIRun(b *testing.B) {
	for _, rows := range []int{100, 20000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "audit.db")
			ctx := context.Background()
			st, err := audit.OpenSQLite(ctx, audit.SQLiteOptions{Path: path})
			if err != nil {
				b.Fatal(err)
			}
			req := &sandrun.Request{Language: "python", Code: "print('hello')"}
			for range rows {
				e := audit.NewEntry(req, &sandrun.Result{ID: sandrun.NewID(), Status: sandrun.StatusOK, CodeSHA256: "x", StartedAt: time.Now()}, false)
				if err := st.Insert(ctx, e); err != nil {
					b.Fatal(err)
				}
			}
			st.Close()
			cpu0 := cpuTime()
			for b.Loop() {
				log, err := audit.New(audit.Options{
					Open: func(ctx context.Context) (audit.Store, error) {
						return audit.OpenSQLite(ctx, audit.SQLiteOptions{Path: path})
					},
					Retention: audit.Retention{MaxRuns: 100000, MaxAge: 90 * 24 * time.Hour},
				})
				if err != nil {
					b.Fatal(err)
				}
				log.Warm()
				res := &sandrun.Result{ID: sandrun.NewID(), Status: sandrun.StatusOK, CodeSHA256: "x", StartedAt: time.Now()}
				if err := log.Begin(ctx, req, res); err != nil {
					b.Fatal(err)
				}
				if err := log.Record(ctx, req, res); err != nil {
					b.Fatal(err)
				}
				log.Close()
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
