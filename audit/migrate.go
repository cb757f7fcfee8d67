package audit

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migration is one schema step. Steps are append-only: a released step is
// never edited, a change is a new step. Each runs in one transaction with
// the row that records it in sandrun_schema_migrations.
type migration struct {
	version int
	name    string
	stmts   []string
}

// The schema, per dialect. Version 1 is the first release; version 2 adds
// the node (host) for stores that several nodes share, the downgrades a
// run was made with, and an index for per-caller queries; version 3 the
// session a step belongs to and the writer (host, pid and start time of
// the process that began a record still "running", so that a later start
// can tell it was interrupted); version 4 a run's network usage (the
// proxy's record of a run or session step with an allowlist; NULL
// without one).
//
// started_at is unix microseconds in SQLite (an integer sorts and
// compares exactly) and a timestamptz in PostgreSQL (what operators query
// there). JSON columns are TEXT in SQLite and JSONB in PostgreSQL.
var sqliteMigrations = []migration{
	{1, "create sandrun_runs", []string{
		`CREATE TABLE sandrun_runs (
			seq INTEGER PRIMARY KEY AUTOINCREMENT,
			id TEXT NOT NULL UNIQUE,
			started_at INTEGER NOT NULL,
			code_sha256 TEXT NOT NULL,
			code_size INTEGER NOT NULL,
			code TEXT,
			language TEXT NOT NULL,
			backend TEXT NOT NULL,
			limits TEXT NOT NULL,
			status TEXT NOT NULL,
			exit_code INTEGER NOT NULL,
			signal TEXT NOT NULL DEFAULT '',
			error TEXT NOT NULL DEFAULT '',
			wall_ms INTEGER NOT NULL,
			cpu_ms INTEGER NOT NULL,
			memory_peak_bytes INTEGER NOT NULL,
			sanitized INTEGER NOT NULL,
			detections TEXT NOT NULL,
			caller TEXT NOT NULL DEFAULT '',
			version TEXT NOT NULL
		)`,
		`CREATE INDEX sandrun_runs_started ON sandrun_runs (started_at)`,
		`CREATE INDEX sandrun_runs_status ON sandrun_runs (status, started_at)`,
	}},
	{2, "add host, downgrades, caller index", []string{
		`ALTER TABLE sandrun_runs ADD COLUMN host TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE sandrun_runs ADD COLUMN downgrades TEXT NOT NULL DEFAULT '[]'`,
		`CREATE INDEX sandrun_runs_caller ON sandrun_runs (caller, started_at)`,
	}},
	{3, "add session, writer, session index", []string{
		`ALTER TABLE sandrun_runs ADD COLUMN session TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE sandrun_runs ADD COLUMN writer TEXT NOT NULL DEFAULT ''`,
		`CREATE INDEX sandrun_runs_session ON sandrun_runs (session, started_at)`,
	}},
	{4, "add network usage", []string{
		`ALTER TABLE sandrun_runs ADD COLUMN network TEXT`,
	}},
}

var postgresMigrations = []migration{
	{1, "create sandrun_runs", []string{
		`CREATE TABLE sandrun_runs (
			seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			id TEXT NOT NULL UNIQUE,
			started_at TIMESTAMPTZ NOT NULL,
			code_sha256 TEXT NOT NULL,
			code_size INTEGER NOT NULL,
			code TEXT,
			language TEXT NOT NULL,
			backend TEXT NOT NULL,
			limits JSONB NOT NULL,
			status TEXT NOT NULL,
			exit_code INTEGER NOT NULL,
			signal TEXT NOT NULL DEFAULT '',
			error TEXT NOT NULL DEFAULT '',
			wall_ms BIGINT NOT NULL,
			cpu_ms BIGINT NOT NULL,
			memory_peak_bytes BIGINT NOT NULL,
			sanitized BOOLEAN NOT NULL,
			detections JSONB NOT NULL,
			caller TEXT NOT NULL DEFAULT '',
			version TEXT NOT NULL
		)`,
		`CREATE INDEX sandrun_runs_started ON sandrun_runs (started_at)`,
		`CREATE INDEX sandrun_runs_status ON sandrun_runs (status, started_at)`,
	}},
	{2, "add host, downgrades, caller index", []string{
		`ALTER TABLE sandrun_runs ADD COLUMN host TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE sandrun_runs ADD COLUMN downgrades JSONB NOT NULL DEFAULT '[]'`,
		`CREATE INDEX sandrun_runs_caller ON sandrun_runs (caller, started_at)`,
	}},
	{3, "add session, writer, session index", []string{
		`ALTER TABLE sandrun_runs ADD COLUMN session TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE sandrun_runs ADD COLUMN writer TEXT NOT NULL DEFAULT ''`,
		`CREATE INDEX sandrun_runs_session ON sandrun_runs (session, started_at)`,
	}},
	{4, "add network usage", []string{
		`ALTER TABLE sandrun_runs ADD COLUMN network JSONB`,
	}},
}

const migrationsTable = `CREATE TABLE IF NOT EXISTS sandrun_schema_migrations (
	version INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	applied_at TEXT NOT NULL
)`

// SchemaVersion is the schema this build of sandrun writes.
func SchemaVersion() int { return len(sqliteMigrations) }

// schemaVersion reads the applied version; 0 for an empty database.
func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v sql.NullInt64
	err := db.QueryRowContext(ctx, `SELECT MAX(version) FROM sandrun_schema_migrations`).Scan(&v)
	if err != nil {
		// A database that has never been migrated has no such table.
		var n int
		if e2 := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sandrun_runs`).Scan(&n); e2 == nil {
			return 0, fmt.Errorf("audit: sandrun_runs exists but sandrun_schema_migrations does not: %w", err)
		}
		return 0, nil
	}
	return int(v.Int64), nil
}

// migrate brings the schema up to version upTo (0 means the latest). It
// refuses a database whose schema is newer than this build knows: an old
// node must not write rows a newer schema does not expect.
func migrate(ctx context.Context, db *sql.DB, d *dialect, upTo int) error {
	if upTo <= 0 || upTo > len(d.migrations) {
		upTo = len(d.migrations)
	}
	// Fast path without a write lock, so a current database on read-only
	// storage can still be listed.
	if cur, err := schemaVersion(ctx, db); err == nil && cur >= upTo {
		return checkNewer(cur, len(d.migrations))
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if d.lock != "" {
		if _, err := tx.ExecContext(ctx, d.lock); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, migrationsTable); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var v sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM sandrun_schema_migrations`).Scan(&v); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	cur := int(v.Int64)
	if err := checkNewer(cur, len(d.migrations)); err != nil {
		return err
	}
	ins := `INSERT INTO sandrun_schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`
	if d.dollar {
		ins = `INSERT INTO sandrun_schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`
	}
	for _, m := range d.migrations {
		if m.version <= cur || m.version > upTo {
			continue
		}
		for _, stmt := range m.stmts {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, ins, m.version, m.name, time.Now().UTC().Format(time.RFC3339)); err != nil {
			return fmt.Errorf("migration %d: record: %w", m.version, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}

func checkNewer(cur, known int) error {
	if cur > known {
		return fmt.Errorf("the store's schema is version %d, newer than this sandrun knows (%d): upgrade sandrun", cur, known)
	}
	return nil
}
