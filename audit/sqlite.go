package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
	"modernc.org/sqlite"
)

// SQLiteOptions configure the embedded store.
type SQLiteOptions struct {
	// Path is the database file; its directory is created (0700) and the
	// file is created 0600, since it may hold code.
	Path string
	// BusyTimeout is how long a write waits for another process's lock
	// (default 5s; the Log's write timeout bounds the whole write anyway).
	BusyTimeout time.Duration
	// Pragmas are extra PRAGMA settings applied to every connection, such
	// as "max_page_count(64)" (tests use it to simulate a full disk).
	Pragmas []string
	// MigrateTo stops migrations at this version (0: the latest). For
	// testing the upgrade path only.
	MigrateTo int
}

// minFreeBytes is the free space below which doctor calls a SQLite
// store's disk full.
const minFreeBytes = 1 << 20

// DefaultSQLitePath is the audit database in the user's state directory:
// $XDG_STATE_HOME/sandrun/audit.db, else ~/.local/state/sandrun/audit.db.
// getenv is os.Getenv (a parameter for tests).
func DefaultSQLitePath(getenv func(string) string) (string, error) {
	if d := getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "sandrun", "audit.db"), nil
	}
	home := getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("audit: no state directory: set XDG_STATE_HOME or HOME, or give the audit path: %w", err)
		}
		home = h
	}
	return filepath.Join(home, ".local", "state", "sandrun", "audit.db"), nil
}

var sqliteDialect = dialect{
	name:       "sqlite",
	migrations: sqliteMigrations,
	// The connection's transactions begin IMMEDIATE (_txlock), so the
	// migration transaction holds the write lock from its first statement.
	timeArg: func(t time.Time) any { return t.UnixMicro() },
}

// OpenSQLite opens (creating on first use) the SQLite audit store and
// brings its schema up to date.
func OpenSQLite(ctx context.Context, o SQLiteOptions) (*SQLStore, error) {
	if o.Path == "" {
		return nil, errors.New("audit: sqlite path is empty")
	}
	if strings.ContainsAny(o.Path, "?#") {
		return nil, fmt.Errorf("audit: sqlite path %q must not contain ? or #", o.Path)
	}
	path, err := filepath.Abs(o.Path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, errStore("sqlite", path, err)
	}
	// Create the file ourselves so it is 0600 (SQLite would use 0644 less
	// the umask); SQLite's -wal and -shm files copy its mode.
	// An existing file that cannot be opened for writing (read-only
	// storage) is still opened, for reading.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
		f.Close()
	} else if _, serr := os.Stat(path); serr != nil {
		return nil, errStore("sqlite", path, err)
	}
	busy := o.BusyTimeout
	if busy <= 0 {
		busy = 5 * time.Second
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	for _, p := range o.Pragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, errStore("sqlite", path, err)
	}
	d := sqliteDialect
	d.writable = func(ctx context.Context, db *sql.DB) error { return sqliteWritable(ctx, db, path) }
	d.checkpoint = sqliteCheckpoint
	d.sync = func() error { return syncWAL(path) }
	if err := migrate(ctx, db, &d, o.MigrateTo); err != nil {
		db.Close()
		if ro, rerr := openReadOnlyFS(ctx, path, &d); rerr == nil {
			return ro, nil
		}
		return nil, errStore("sqlite", path, err)
	}
	st := &SQLStore{db: db, d: &d, location: path}
	// Remember which file this is: a file deleted or replaced while we
	// hold it open would swallow every later write without an error.
	var id unix.Stat_t
	if err := unix.Stat(path, &id); err == nil {
		var walIno atomic.Uint64
		// /proc/self/fd shows the path with its links resolved.
		wal := path + "-wal"
		if d, err := filepath.EvalSymlinks(filepath.Dir(path)); err == nil {
			wal = filepath.Join(d, filepath.Base(path)+"-wal")
		}
		st.same = func() error {
			var now unix.Stat_t
			if err := unix.Stat(path, &now); err != nil || now.Ino != id.Ino || now.Dev != id.Dev {
				return fmt.Errorf("%w: %s", ErrReplaced, path)
			}
			// The write-ahead log too: deleted or replaced alone, SQLite
			// writes on into the one it holds open. It is also deleted
			// legitimately when the last connection closes, so a WAL that
			// is gone or new only counts when this process still holds a
			// deleted one (one stat on the common path).
			var ws unix.Stat_t
			if err := unix.Stat(wal, &ws); err == nil && ws.Ino == walIno.Load() {
				return nil
			}
			if holdsDeleted(wal) {
				return fmt.Errorf("%w: %s (its write-ahead log %s)", ErrReplaced, path, wal)
			}
			walIno.Store(ws.Ino)
			return nil
		}
	}
	return st, nil
}

// openReadOnlyFS opens an existing database on a read-only file system,
// where SQLite cannot create the WAL's shared-memory file and so cannot
// open it normally. The file cannot change there, so it is opened
// immutable: the log stays readable, and writes fail (and are counted)
// with "attempt to write a readonly database" instead of a vague "unable
// to open database file". Only for EROFS: on a writable file system a
// read-only handle on a file others may write would not be safe.
func openReadOnlyFS(ctx context.Context, path string, d *dialect) (*SQLStore, error) {
	if err := unix.Access(filepath.Dir(path), unix.W_OK); !errors.Is(err, unix.EROFS) {
		return nil, errors.New("not on a read-only file system")
	}
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	u := url.URL{Scheme: "file", Path: path, RawQuery: "mode=ro&immutable=1"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, err
	}
	v, err := schemaVersion(ctx, db)
	if err == nil {
		err = checkNewer(v, len(d.migrations))
	}
	if err == nil && v < len(d.migrations) {
		err = fmt.Errorf("schema version %d needs migrating, which a read-only file system does not allow", v)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return &SQLStore{db: db, d: d, location: path + " (read-only file system)"}, nil
}

// sqliteWritable makes a probe write in a transaction it rolls back: it
// takes the write lock and allocates pages (64 KiB of overflow pages), so
// it fails on a read-only file or directory, a lock held too long, or a
// database at its max_page_count. A full disk shows only when SQLite
// writes its journal, so the free space is checked as well.
func sqliteWritable(ctx context.Context, db *sql.DB, path string) error {
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: takes the write lock
	if err != nil {
		return fmt.Errorf("cannot take the write lock: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE sandrun_write_probe (b BLOB)`); err != nil {
		return fmt.Errorf("not writable: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO sandrun_write_probe VALUES (zeroblob(65536))`); err != nil {
		return fmt.Errorf("not writable: %w", err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(filepath.Dir(path), &st); err == nil {
		if free := int64(st.Bavail) * int64(st.Bsize); free < minFreeBytes {
			return fmt.Errorf("disk nearly full: %d bytes free in %s", free, filepath.Dir(path))
		}
	}
	return nil
}

// IsFull reports whether err is SQLite's "database or disk is full".
func IsFull(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == 13 // SQLITE_FULL
}

// sqliteCheckpoint copies the write-ahead log's committed pages into the
// database file (and fsyncs both) without waiting for readers or writers
// of other processes (PASSIVE): what it cannot copy now, a later
// checkpoint will.
func sqliteCheckpoint(ctx context.Context, db *sql.DB) error {
	var busy, logFrames, done int
	if err := db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &done); err != nil {
		return fmt.Errorf("audit: checkpoint: %w", err)
	}
	return nil
}

// syncWAL fsyncs the database's write-ahead log: with synchronous=NORMAL
// a commit is written to it but not synced, so this is what makes the
// writes of a process that exits without closing survive a power loss.
// No log file: every write is already in the (synced) database file.
func syncWAL(path string) error {
	f, err := os.Open(path + "-wal")
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("audit: syncing the write-ahead log: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("audit: syncing the write-ahead log: %w", err)
	}
	return nil
}
