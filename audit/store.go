package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sandrun/sandrun"
)

// Store is where a Log keeps its entries. SQLStore (SQLite or PostgreSQL)
// is the implementation; the interface is the seam the Log's failure
// handling is tested through.
type Store interface {
	Insert(ctx context.Context, e *Entry) error
	// Update replaces the entry with e's id (a record begun as running,
	// now complete); ErrNotFound when there is none.
	Update(ctx context.Context, e *Entry) error
	// MarkInterrupted marks the records host began that are still
	// running and whose writer alive says is gone: their process died
	// (crash, kill -9) before completing them.
	MarkInterrupted(ctx context.Context, host string, alive func(writer string) bool) (int64, error)
	Get(ctx context.Context, id string) (*Entry, error)
	List(ctx context.Context, f Filter) ([]*Entry, error)
	Prune(ctx context.Context, r Retention) (int64, error)
	// Stats describes the store for doctor.
	Stats(ctx context.Context) (Stats, error)
	// CheckWritable fails when a write would fail now (read-only file,
	// full disk, missing privilege), without writing an entry.
	CheckWritable(ctx context.Context) error
	Close() error
}

// Stats is what doctor and `audit list` say about a store.
type Stats struct {
	Kind     string // "sqlite" or "postgres"
	Location string // file path, or host/database (never a password)
	Schema   int    // applied migration version
	Runs     int64
	Oldest   time.Time
	Newest   time.Time
}

// dialect is what differs between SQLite and PostgreSQL.
type dialect struct {
	name string
	// dollar rewrites ? placeholders as $1, $2... (PostgreSQL).
	dollar bool
	// migrations, in version order starting at 1.
	migrations []migration
	// lock serialises migrations between processes or nodes, run first in
	// the migration transaction ("" when the transaction itself locks).
	lock string
	// timeArg converts a time to the column's representation.
	timeArg func(time.Time) any
	// writable checks that a write would succeed now.
	writable func(ctx context.Context, db *sql.DB) error
	// checkpoint, when set, moves the committed writes from the
	// write-ahead log into the database file (SQLite), off the caller's
	// path, so that a process that leaves without closing (CloseAtExit)
	// leaves a short log for the next opener to recover.
	checkpoint func(ctx context.Context, db *sql.DB) error
	// sync, when set, makes every committed write durable without
	// closing the database (SQLite: an fsync of the write-ahead log),
	// for a process about to exit (CloseAtExit).
	sync func() error
}

// SQLStore is a Store on database/sql: SQLite through modernc.org/sqlite,
// PostgreSQL through pgx's database/sql adapter. One implementation, one
// set of queries; only the DDL and a few conversions differ (dialect).
type SQLStore struct {
	db       *sql.DB
	d        *dialect
	location string
	// same, when set, fails with ErrReplaced once the database file is
	// no longer the one opened (SQLite: deleted or replaced under us).
	same func() error
}

// ErrReplaced is returned by writes to a SQLite store whose file was
// deleted or replaced after it was opened: the writes would go into a
// file nobody can read. The Log then reopens the path.
var ErrReplaced = errors.New("audit: the database file was deleted or replaced while open")

func (s *SQLStore) checkSame() error {
	if s.same == nil {
		return nil
	}
	return s.same()
}

var _ Store = (*SQLStore)(nil)

const entryColumns = `id, started_at, code_sha256, code_size, code, language, backend, limits,
	status, exit_code, signal, error, wall_ms, cpu_ms, memory_peak_bytes, sanitized,
	detections, downgrades, caller, host, version, session, writer, network`

func (s *SQLStore) q(query string) string {
	if !s.d.dollar {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Insert stores e. An entry with an id already stored is an error.
func (s *SQLStore) Insert(ctx context.Context, e *Entry) error {
	if err := s.checkSame(); err != nil {
		return err
	}
	args, err := s.entryArgs(e)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO sandrun_runs (`+entryColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), args...)
	if err != nil {
		return fmt.Errorf("audit: insert run %s into %s: %w", e.ID, s.location, err)
	}
	return nil
}

// Update replaces the stored entry with e's id by e.
func (s *SQLStore) Update(ctx context.Context, e *Entry) error {
	if err := s.checkSame(); err != nil {
		return err
	}
	args, err := s.entryArgs(e)
	if err != nil {
		return err
	}
	cols := strings.Fields(strings.ReplaceAll(entryColumns, ",", " "))
	sets := make([]string, 0, len(cols)-1)
	for _, c := range cols[1:] { // every column but id
		sets = append(sets, c+" = ?")
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE sandrun_runs SET `+strings.Join(sets, ", ")+` WHERE id = ?`),
		append(args[1:], e.ID)...)
	if err != nil {
		return fmt.Errorf("audit: update run %s in %s: %w", e.ID, s.location, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, e.ID)
	}
	return nil
}

// MarkInterrupted marks host's running records whose writer is gone as
// interrupted, and returns how many.
func (s *SQLStore) MarkInterrupted(ctx context.Context, host string, alive func(string) bool) (int64, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, writer FROM sandrun_runs WHERE status = ? AND host = ?`), string(StatusRunning), host)
	if err != nil {
		return 0, fmt.Errorf("audit: find running records: %w", err)
	}
	var dead []string
	for rows.Next() {
		var id, w string
		if err := rows.Scan(&id, &w); err != nil {
			rows.Close()
			return 0, err
		}
		if !alive(w) {
			dead = append(dead, id)
		}
	}
	rows.Close()
	var n int64
	for _, id := range dead {
		res, err := s.db.ExecContext(ctx, s.q(`UPDATE sandrun_runs SET status = ?, error = ? WHERE id = ? AND status = ?`),
			string(StatusInterrupted), interruptedMsg, id, string(StatusRunning))
		if err != nil {
			return n, fmt.Errorf("audit: mark run %s interrupted: %w", id, err)
		}
		k, _ := res.RowsAffected()
		n += k
	}
	return n, nil
}

// entryArgs are e's values in entryColumns order.
func (s *SQLStore) entryArgs(e *Entry) ([]any, error) {
	limits, err := json.Marshal(e.Limits)
	if err != nil {
		return nil, err
	}
	det := e.Detections
	if det == nil {
		det = []sandrun.Detection{}
	}
	dets, err := json.Marshal(det)
	if err != nil {
		return nil, err
	}
	down := e.Downgrades
	if down == nil {
		down = []string{}
	}
	downs, err := json.Marshal(down)
	if err != nil {
		return nil, err
	}
	var code, network sql.NullString
	if e.Code != "" {
		code = sql.NullString{String: e.Code, Valid: true}
	}
	if e.Usage.Network != nil {
		b, err := json.Marshal(e.Usage.Network)
		if err != nil {
			return nil, err
		}
		network = sql.NullString{String: string(b), Valid: true}
	}
	return []any{e.ID, s.d.timeArg(e.StartedAt), e.CodeSHA256, e.CodeSize, code, e.Language, e.Backend,
		string(limits), string(e.Status), e.ExitCode, e.Signal, e.Error, e.Usage.WallMs,
		e.Usage.CPUMs, e.Usage.MemoryPeakBytes, e.Sanitized, string(dets), string(downs),
		e.Caller, e.Host, e.Version, e.Session, e.Writer, network}, nil
}

// Get returns the entry with exactly this id, or ErrNotFound.
func (s *SQLStore) Get(ctx context.Context, id string) (*Entry, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+entryColumns+` FROM sandrun_runs WHERE id = ?`), id)
	if err != nil {
		return nil, fmt.Errorf("audit: get run %s: %w", id, err)
	}
	got, err := scanEntries(rows)
	if err != nil {
		return nil, fmt.Errorf("audit: get run %s: %w", id, err)
	}
	if len(got) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return got[0], nil
}

// List returns the entries f selects, newest first.
func (s *SQLStore) List(ctx context.Context, f Filter) ([]*Entry, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if !f.Since.IsZero() {
		add("started_at >= ?", s.d.timeArg(f.Since))
	}
	if !f.Until.IsZero() {
		add("started_at < ?", s.d.timeArg(f.Until))
	}
	if f.Status != "" {
		add("status = ?", string(f.Status))
	}
	if f.Backend != "" {
		add("backend = ?", f.Backend)
	}
	if f.Language != "" {
		add("language = ?", f.Language)
	}
	if f.Caller != "" {
		add("caller = ?", f.Caller)
	}
	if f.Session != "" {
		add("session = ?", f.Session)
	}
	if f.CodeSHA256 != "" {
		add("code_sha256 = ?", strings.ToLower(f.CodeSHA256))
	}
	if f.IDPrefix != "" {
		// Ids are hex; anything else cannot match and must not reach LIKE
		// as a pattern.
		if strings.Trim(strings.ToLower(f.IDPrefix), "0123456789abcdef") != "" {
			return nil, nil
		}
		add("id LIKE ?", strings.ToLower(f.IDPrefix)+"%")
	}
	query := `SELECT ` + entryColumns + ` FROM sandrun_runs`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY started_at DESC, seq DESC"
	limit := f.Limit
	if limit == 0 {
		limit = DefaultListLimit
	}
	if limit > 0 {
		query += " LIMIT ?"
		args = append(args, limit)
		if f.Offset > 0 {
			query += " OFFSET ?"
			args = append(args, f.Offset)
		}
	}
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("audit: list runs: %w", err)
	}
	out, err := scanEntries(rows)
	if err != nil {
		return nil, fmt.Errorf("audit: list runs: %w", err)
	}
	return out, nil
}

func scanEntries(rows *sql.Rows) ([]*Entry, error) {
	defer rows.Close()
	var out []*Entry
	for rows.Next() {
		var (
			e                  Entry
			code, network      sql.NullString
			lim, det, down, st string
			started            timeScan
		)
		err := rows.Scan(&e.ID, &started, &e.CodeSHA256, &e.CodeSize, &code, &e.Language,
			&e.Backend, &lim, &st, &e.ExitCode, &e.Signal, &e.Error, &e.Usage.WallMs,
			&e.Usage.CPUMs, &e.Usage.MemoryPeakBytes, &e.Sanitized, &det, &down, &e.Caller,
			&e.Host, &e.Version, &e.Session, &e.Writer, &network)
		if err != nil {
			return nil, err
		}
		e.StartedAt, e.Code, e.Status = started.t, code.String, sandrun.Status(st)
		if err := json.Unmarshal([]byte(lim), &e.Limits); err != nil {
			return nil, fmt.Errorf("run %s: limits: %w", e.ID, err)
		}
		if err := json.Unmarshal([]byte(det), &e.Detections); err != nil {
			return nil, fmt.Errorf("run %s: detections: %w", e.ID, err)
		}
		if err := json.Unmarshal([]byte(down), &e.Downgrades); err != nil {
			return nil, fmt.Errorf("run %s: downgrades: %w", e.ID, err)
		}
		if len(e.Downgrades) == 0 {
			e.Downgrades = nil
		}
		if network.Valid {
			if err := json.Unmarshal([]byte(network.String), &e.Usage.Network); err != nil {
				return nil, fmt.Errorf("run %s: network: %w", e.ID, err)
			}
		}
		out = append(out, &e)
	}
	return out, rows.Err()
}

// timeScan reads started_at: unix microseconds (SQLite) or a timestamp
// (PostgreSQL).
type timeScan struct{ t time.Time }

func (ts *timeScan) Scan(v any) error {
	switch x := v.(type) {
	case int64:
		ts.t = time.UnixMicro(x).UTC()
	case time.Time:
		ts.t = x.UTC()
	default:
		return fmt.Errorf("started_at: unexpected %T", v)
	}
	return nil
}

// Prune deletes entries older than r.MaxAge and all but the newest
// r.MaxRuns, and returns how many it deleted.
func (s *SQLStore) Prune(ctx context.Context, r Retention) (int64, error) {
	var n int64
	if r.MaxAge > 0 {
		res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM sandrun_runs WHERE started_at < ?`),
			s.d.timeArg(time.Now().Add(-r.MaxAge)))
		if err != nil {
			return 0, fmt.Errorf("audit: prune by age: %w", err)
		}
		k, _ := res.RowsAffected()
		n += k
	}
	if r.MaxRuns > 0 {
		// seq values are unique, so the log holds at most MAX-MIN+1 runs:
		// within the cap there is nothing to delete, and finding that out
		// costs two index lookups instead of the walk below, which reads up
		// to MaxRuns index entries (every CLI run prunes once; at 20,000
		// runs: 26 us of CPU instead of 209 us).
		var lo, hi sql.NullInt64
		if err := s.db.QueryRowContext(ctx, `SELECT (SELECT MIN(seq) FROM sandrun_runs), (SELECT MAX(seq) FROM sandrun_runs)`).Scan(&lo, &hi); err != nil {
			return n, fmt.Errorf("audit: prune by count: %w", err)
		}
		if !hi.Valid || hi.Int64-lo.Int64+1 <= int64(r.MaxRuns) {
			return n, nil
		}
		// seq is the insertion order; keep the newest MaxRuns.
		res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM sandrun_runs WHERE seq <=
			(SELECT seq FROM sandrun_runs ORDER BY seq DESC LIMIT 1 OFFSET ?)`), r.MaxRuns)
		if err != nil {
			return n, fmt.Errorf("audit: prune by count: %w", err)
		}
		k, _ := res.RowsAffected()
		n += k
	}
	return n, nil
}

// Stats counts the entries and reads the schema version.
func (s *SQLStore) Stats(ctx context.Context) (Stats, error) {
	st := Stats{Kind: s.d.name, Location: s.location}
	v, err := schemaVersion(ctx, s.db)
	if err != nil {
		return st, err
	}
	st.Schema = v
	var oldest, newest sql.Null[timeScan]
	err = s.db.QueryRowContext(ctx, `SELECT COUNT(*), MIN(started_at), MAX(started_at) FROM sandrun_runs`).
		Scan(&st.Runs, &oldest, &newest)
	if err != nil {
		return st, fmt.Errorf("audit: stats: %w", err)
	}
	st.Oldest, st.Newest = oldest.V.t, newest.V.t
	return st, nil
}

// CheckWritable asks the dialect whether a write would succeed now.
func (s *SQLStore) CheckWritable(ctx context.Context) error { return s.d.writable(ctx, s.db) }

// Close closes the database.
func (s *SQLStore) Close() error { return s.db.Close() }

// Checkpoint moves what the write-ahead log holds into the database file
// where the dialect has one (SQLite); a no-op otherwise.
func (s *SQLStore) Checkpoint(ctx context.Context) error {
	if s.d.checkpoint == nil {
		return nil
	}
	return s.d.checkpoint(ctx, s.db)
}

// CloseAtExit is Close for a process that exits right after: where the
// dialect can (SQLite), it makes every committed write durable and leaves
// the connection to the exit, skipping the checkpoint that closing the
// last connection does (two fsyncs, the copy of the log's pages, the
// unlinks: milliseconds on every one-shot command). SQLite recovers the
// log the process leaves when the database is next opened, as after any
// exit without a close. Elsewhere it is Close.
func (s *SQLStore) CloseAtExit() error {
	if s.d.sync == nil {
		return s.Close()
	}
	return s.d.sync()
}

// Location is the file path or host/database of the store.
func (s *SQLStore) Location() string { return s.location }

// errStore wraps open errors with the store's location.
func errStore(kind, loc string, err error) error {
	if err == nil {
		return nil
	}
	var se *storeError
	if errors.As(err, &se) {
		return err
	}
	return &storeError{Kind: kind, Location: loc, Err: err}
}

// storeError says which store failed to open.
type storeError struct {
	Kind, Location string
	Err            error
}

func (e *storeError) Error() string {
	return fmt.Sprintf("audit: %s store %s: %v", e.Kind, e.Location, e.Err)
}
func (e *storeError) Unwrap() error { return e.Err }
