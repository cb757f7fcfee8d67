package audit_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/audit"
	"github.com/sandrun/sandrun/internal/testenv"
)

// pgDSN returns the test database's DSN, exported by
// scripts/setup.d/40-postgres.sh; it skips (fails under
// SANDRUN_TEST_STRICT=1) without one.
func pgDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("SANDRUN_TEST_PG_DSN")
	if dsn == "" {
		testenv.Skip(t, "SANDRUN_TEST_PG_DSN is not set: scripts/setup.d/40-postgres.sh starts a PostgreSQL for these tests")
	}
	return dsn
}

// pgSchema gives the test an empty schema of its own on the test database
// (dropped at the end) and returns a connection and a DSN that use it.
// Tests of other packages and other runs share the database at the same
// time, so no test may touch the public schema's tables.
func pgSchema(t *testing.T) (*sql.DB, string) {
	t.Helper()
	base := pgDSN(t)
	schema := strings.ReplaceAll(testenv.Name("sandrun_test"), "-", "_")
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if a, err := sql.Open("pgx", base); err == nil {
			_, _ = a.Exec(`DROP SCHEMA IF EXISTS ` + schema + ` CASCADE`)
			a.Close()
		}
	})
	dsn := withSearchPath(base, schema)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { db.Close() })
	return db, dsn
}

// withSearchPath adds search_path to a key=value or URL DSN.
func withSearchPath(dsn, schema string) string {
	if strings.Contains(dsn, "://") {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		return dsn + sep + "search_path=" + schema
	}
	return dsn + " search_path=" + schema
}

func openPG(t *testing.T) audit.Store {
	t.Helper()
	_, dsn := pgSchema(t)
	st, err := audit.OpenPostgres(context.Background(), audit.PostgresOptions{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestPostgresStore(t *testing.T) { storeSuite(t, openPG) }

func TestPostgresUpgrade(t *testing.T) {
	ctx := context.Background()
	db, dsn := pgSchema(t)
	v1, err := audit.OpenPostgres(ctx, audit.PostgresOptions{DSN: dsn, MigrateTo: 1})
	if err != nil {
		t.Fatal(err)
	}
	v1.Close()
	_, err = db.Exec(`INSERT INTO sandrun_runs (id, started_at, code_sha256, code_size, code, language,
		backend, limits, status, exit_code, wall_ms, cpu_ms, memory_peak_bytes, sanitized, detections,
		caller, version) VALUES ('old1', $1, 'aa', 3, NULL, 'python', 'process', '{"memory":1048576}',
		'ok', 0, 5, 4, 1000, true, '[]', 'carol', '0.0.1')`, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	st, err := audit.OpenPostgres(ctx, audit.PostgresOptions{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	old, err := st.Get(ctx, "old1")
	if err != nil {
		t.Fatal(err)
	}
	if old.Caller != "carol" || old.Host != "" || old.Downgrades != nil || old.Limits.Memory != 1<<20 ||
		!old.StartedAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("old row after upgrade: %+v", old)
	}
	if s, err := st.Stats(ctx); err != nil || s.Schema != audit.SchemaVersion() || s.Kind != "postgres" {
		t.Fatalf("stats after upgrade: %+v, %v", s, err)
	}
	if err := st.Insert(ctx, entry(2, time.Now())); err != nil {
		t.Fatal(err)
	}
}

// TestPostgresNodesMigrateConcurrently opens a new database from several
// "nodes" at once: the advisory lock must serialise the migrations.
func TestPostgresNodesMigrateConcurrently(t *testing.T) {
	ctx := context.Background()
	db, dsn := pgSchema(t)
	errs := make(chan error, 5)
	for i := range 5 {
		go func() {
			st, err := audit.OpenPostgres(ctx, audit.PostgresOptions{DSN: dsn})
			if err == nil {
				err = st.Insert(ctx, entry(i, time.Now()))
				st.Close()
			}
			errs <- err
		}()
	}
	for range 5 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	var n, runs int
	db.QueryRow(`SELECT COUNT(*) FROM sandrun_schema_migrations`).Scan(&n)
	db.QueryRow(`SELECT COUNT(*) FROM sandrun_runs`).Scan(&runs)
	if n != audit.SchemaVersion() || runs != 5 {
		t.Fatalf("%d migration rows, %d runs; want %d and 5", n, runs, audit.SchemaVersion())
	}
}

// TestPostgresHungStore holds an exclusive lock on the table from another
// session, so inserts really hang in the server: Record must give up at
// its write timeout and the run's result must be untouched.
func TestPostgresHungStore(t *testing.T) {
	ctx := context.Background()
	db, dsn := pgSchema(t)
	// Long enough for an insert on a loaded host (the same log must
	// record again once the lock is gone), scaled to the host's measured
	// slowdown; any finite timeout shows the run does not wait for a
	// lock that is held until the test ends.
	timeout := testenv.Scale(t, time.Second)
	log, err := audit.New(audit.Options{
		Open: func(ctx context.Context) (audit.Store, error) {
			return audit.OpenPostgres(ctx, audit.PostgresOptions{DSN: dsn})
		},
		WriteTimeout: timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	if _, err := log.Store(ctx); err != nil { // migrate before locking
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`LOCK TABLE sandrun_runs IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	sb := newSandbox(t, log)
	start := time.Now()
	res, runErr := sb.Run(ctx, &sandrun.Request{Language: "python", Code: "print(1)"})
	took := time.Since(start)
	if runErr != nil || res.Status != sandrun.StatusOK || res.Stdout != "fake output\n" {
		t.Fatalf("result lost: %+v, %v", res, runErr)
	}
	// A generous bound: the point is that the run does not wait for the
	// lock (which is held until this test ends), not how fast it is.
	if took > timeout+testenv.Scale(t, 5*time.Second) {
		t.Fatalf("the run waited %v for a hung store", took)
	}
	if sb.AuditErrors() != 1 || log.Errors() != 1 {
		t.Fatalf("audit errors: sandbox %d, log %d; want 1 and 1", sb.AuditErrors(), log.Errors())
	}
	if _, last := log.LastError(); last == nil || !strings.Contains(last.Error(), "timed out") {
		t.Fatalf("last error: %v", last)
	}
	tx.Rollback()
	// Once the lock is gone the store works again.
	if _, err := sb.Run(ctx, &sandrun.Request{Language: "python", Code: "print(2)"}); err != nil {
		t.Fatal(err)
	}
	if n := countRuns(t, log); n < 1 {
		t.Fatalf("%d runs after the lock was released", n)
	}
}

func countRuns(t *testing.T, log *audit.Log) int {
	t.Helper()
	got, err := log.List(context.Background(), audit.Filter{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	return len(got)
}

func TestPostgresBadDSN(t *testing.T) {
	_, err := audit.OpenPostgres(context.Background(), audit.PostgresOptions{DSN: "postgres://u:hunter2@[bad"})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("bad DSN: %v (must fail without quoting the password)", err)
	}
	_, err = audit.OpenPostgres(context.Background(), audit.PostgresOptions{DSN: "host=/nonexistent/sock user=x password=hunter2 connect_timeout=2"})
	var want interface{ Unwrap() error }
	if err == nil || strings.Contains(err.Error(), "hunter2") || !errors.As(err, &want) {
		t.Fatalf("unreachable server: %v", err)
	}
}
