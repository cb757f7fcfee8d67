package audit_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/audit"
)

func openSQLite(t *testing.T) audit.Store {
	t.Helper()
	st, err := audit.OpenSQLite(context.Background(), audit.SQLiteOptions{Path: filepath.Join(t.TempDir(), "audit.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestSQLiteStore(t *testing.T) { storeSuite(t, openSQLite) }

func TestSQLiteCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "sandrun")
	path := filepath.Join(dir, "audit.db")
	st, err := audit.OpenSQLite(context.Background(), audit.SQLiteOptions{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for p, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
	}
}

func TestDefaultSQLitePath(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	got, err := audit.DefaultSQLitePath(env(map[string]string{"XDG_STATE_HOME": "/x/state", "HOME": "/home/u"}))
	if err != nil || got != "/x/state/sandrun/audit.db" {
		t.Errorf("with XDG_STATE_HOME: %q, %v", got, err)
	}
	got, err = audit.DefaultSQLitePath(env(map[string]string{"XDG_STATE_HOME": "relative", "HOME": "/home/u"}))
	if err != nil || got != "/home/u/.local/state/sandrun/audit.db" {
		t.Errorf("relative XDG_STATE_HOME must be ignored (XDG spec): %q, %v", got, err)
	}
}

// rawSQLite opens the database file directly, bypassing the store.
func rawSQLite(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestSQLiteUpgrade creates a version-1 database with a row written the
// way version 1 wrote it, then opens it with the current code: the
// migration must add the new columns and keep the old row readable.
func TestSQLiteUpgrade(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	v1, err := audit.OpenSQLite(ctx, audit.SQLiteOptions{Path: path, MigrateTo: 1})
	if err != nil {
		t.Fatal(err)
	}
	v1.Close()
	db := rawSQLite(t, path)
	_, err = db.Exec(`INSERT INTO sandrun_runs (id, started_at, code_sha256, code_size, code, language,
		backend, limits, status, exit_code, wall_ms, cpu_ms, memory_peak_bytes, sanitized, detections,
		caller, version) VALUES ('old1', ?, 'aa', 3, NULL, 'python', 'process', '{"memory":1048576}',
		'ok', 0, 5, 4, 1000, 1, '[]', 'carol', '0.0.1')`, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixMicro())
	if err != nil {
		t.Fatal(err)
	}
	cols := func() string {
		rows, err := db.Query(`SELECT name FROM pragma_table_info('sandrun_runs') ORDER BY cid`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var names []string
		for rows.Next() {
			var n string
			rows.Scan(&n)
			names = append(names, n)
		}
		return strings.Join(names, ",")
	}
	if c := cols(); strings.Contains(c, "host") {
		t.Fatalf("version 1 already has host: %s", c)
	}
	db.Close()

	st, err := audit.OpenSQLite(ctx, audit.SQLiteOptions{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := st.Stats(ctx)
	if err != nil || s.Schema != audit.SchemaVersion() || s.Runs != 1 {
		t.Fatalf("after upgrade: %+v, %v (want schema %d, 1 run)", s, err, audit.SchemaVersion())
	}
	old, err := st.Get(ctx, "old1")
	if err != nil {
		t.Fatal(err)
	}
	if old.Caller != "carol" || old.Host != "" || old.Session != "" || old.Downgrades != nil || old.Usage.Network != nil || old.Limits.Memory != 1<<20 ||
		!old.StartedAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("old row after upgrade: %+v", old)
	}
	e := entry(1, time.Now())
	if err := st.Insert(ctx, e); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Get(ctx, e.ID); err != nil || got.Host != "node1" {
		t.Fatalf("new row: %+v, %v", got, err)
	}
	db = rawSQLite(t, path)
	var applied string
	if err := db.QueryRow(`SELECT group_concat(version, ',') FROM (SELECT version FROM sandrun_schema_migrations ORDER BY version)`).Scan(&applied); err != nil || applied != "1,2,3,4" {
		t.Fatalf("migrations table: %q, %v", applied, err)
	}
	// Opening again is a no-op.
	st2, err := audit.OpenSQLite(ctx, audit.SQLiteOptions{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	st2.Close()
}

func TestSQLiteRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	st, err := audit.OpenSQLite(ctx, audit.SQLiteOptions{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	db := rawSQLite(t, path)
	if _, err := db.Exec(`INSERT INTO sandrun_schema_migrations VALUES (99, 'future', 'x')`); err != nil {
		t.Fatal(err)
	}
	_, err = audit.OpenSQLite(ctx, audit.SQLiteOptions{Path: path})
	if err == nil || !strings.Contains(err.Error(), "version 99, newer") {
		t.Fatalf("opening a newer schema: %v", err)
	}
}

// TestSQLiteConcurrentFirstUse opens one new database from several
// goroutines at once (as parallel CLI runs do on first use): every open
// must succeed and the schema be applied once.
func TestSQLiteConcurrentFirstUse(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	errs := make(chan error, 6)
	for i := range 6 {
		go func() {
			st, err := audit.OpenSQLite(ctx, audit.SQLiteOptions{Path: path})
			if err == nil {
				err = st.Insert(ctx, entry(i, time.Now()))
				st.Close()
			}
			errs <- err
		}()
	}
	for range 6 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	var n int
	if err := rawSQLite(t, path).QueryRow(`SELECT COUNT(*) FROM sandrun_schema_migrations`).Scan(&n); err != nil || n != audit.SchemaVersion() {
		t.Fatalf("%d migration rows (%v), want %d", n, err, audit.SchemaVersion())
	}
}

func TestNewEntryPrivacy(t *testing.T) {
	req := &sandrun.Request{Language: "python", Code: "print('sk-proj-secret')", Stdin: "stdin-secret", Limits: sandrun.DefaultLimits()}
	res := &sandrun.Result{ID: "r1", Status: sandrun.StatusOK, CodeSHA256: "h", Stdout: "[REDACTED]",
		Detections: []sandrun.Detection{{Rule: "openai", Stream: "stdout", Count: 1}}}
	e := audit.NewEntry(req, res, false)
	if e.Code != "" || e.CodeSize != len(req.Code) || e.Limits != sandrun.DefaultLimits() {
		t.Fatalf("entry without code storage: %+v", e)
	}
	if e := audit.NewEntry(req, res, true); e.Code != req.Code {
		t.Fatal("StoreCode did not keep the code")
	}
	res.Error = strings.Repeat("é", 2000)
	if e := audit.NewEntry(req, res, false); len(e.Error) > 1100 || !strings.HasSuffix(e.Error, "é…") {
		t.Fatalf("error not capped on a rune boundary: %d bytes", len(e.Error))
	}
}
