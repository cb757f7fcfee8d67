package audit

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgresOptions configure the shared store.
type PostgresOptions struct {
	// DSN is a libpq connection string: a URL (postgres://user@host/db) or
	// key=value pairs (host=/run/postgresql dbname=sandrun).
	DSN string
	// MaxConns caps the pool (default 4): an audit writer needs few.
	MaxConns int
	// MigrateTo stops migrations at this version (0: the latest). For
	// testing the upgrade path only.
	MigrateTo int
}

// pgMigrationLock is the advisory lock key that serialises migrations
// between sandrun nodes sharing one database ("sandrun" in ASCII).
const pgMigrationLock = 0x73616e6472756e

var postgresDialect = dialect{
	name:       "postgres",
	dollar:     true,
	migrations: postgresMigrations,
	lock:       fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", pgMigrationLock),
	timeArg:    func(t time.Time) any { return t.UTC() },
	writable: func(ctx context.Context, db *sql.DB) error {
		var ok, ro bool
		err := db.QueryRowContext(ctx, `SELECT has_table_privilege('sandrun_runs', 'INSERT'),
			current_setting('transaction_read_only') = 'on'`).Scan(&ok, &ro)
		switch {
		case err != nil:
			return err
		case ro:
			return fmt.Errorf("the server is read-only (a standby?)")
		case !ok:
			return fmt.Errorf("the role may not INSERT into sandrun_runs")
		}
		return nil
	},
}

// OpenPostgres connects to the PostgreSQL audit store (pgx through
// database/sql, so both stores share one set of queries) and brings its
// schema up to date. Several nodes may share the database: migrations
// take an advisory lock.
func OpenPostgres(ctx context.Context, o PostgresOptions) (*SQLStore, error) {
	cfg, err := pgx.ParseConfig(o.DSN)
	if err != nil {
		// pgx's message may quote the DSN, password included.
		return nil, fmt.Errorf("audit: postgres DSN does not parse (check its syntax; see the libpq connection string docs)")
	}
	loc := pgLocation(cfg)
	db := stdlib.OpenDB(*cfg)
	n := o.MaxConns
	if n <= 0 {
		n = 4
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	d := postgresDialect
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, errStore("postgres", loc, err)
	}
	if err := migrate(ctx, db, &d, o.MigrateTo); err != nil {
		db.Close()
		return nil, errStore("postgres", loc, err)
	}
	return &SQLStore{db: db, d: &d, location: loc}, nil
}

// pgLocation names the database without credentials: user@host:port/db.
func pgLocation(c *pgx.ConnConfig) string {
	host := c.Host
	if strings.HasPrefix(host, "/") {
		host = "unix:" + host
	}
	return fmt.Sprintf("%s@%s:%d/%s", c.User, host, c.Port, c.Database)
}

// IsPostgresDSN reports whether dsn looks like a PostgreSQL connection
// string (a postgres:// URL or libpq key=value pairs).
func IsPostgresDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") ||
		strings.Contains(dsn, "=")
}
