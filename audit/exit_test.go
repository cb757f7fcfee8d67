package audit_test

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/audit"
)

// CloseAtExit (a one-shot `sandrun run`) leaves SQLite's connection to the
// process's exit instead of closing it, which skips the checkpoint of the
// close. Every record must still be there, complete, for the next process;
// the record written as the run began was checkpointed into the database
// file meanwhile (off the run's path), so the log left behind is short.
func TestCloseAtExitKeepsEveryRecord(t *testing.T) {
	if p := os.Getenv("SANDRUN_AUDIT_EXIT_HELPER_DB"); p != "" {
		helperRunAndExit(p)
		return
	}
	path := filepath.Join(t.TempDir(), "audit.db")
	var ids []string
	for round := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCloseAtExitKeepsEveryRecord$")
		cmd.Env = append(os.Environ(), "SANDRUN_AUDIT_EXIT_HELPER_DB="+path)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("round %d: helper: %v (%s)", round, err, out)
		}
		id, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "recorded ")
		if !ok {
			t.Fatalf("round %d: helper said %q", round, out)
		}
		ids = append(ids, id)
		// The close's checkpoint was skipped: the write-ahead log is
		// still there (a plain Close deletes it).
		if _, err := os.Stat(path + "-wal"); err != nil {
			t.Fatalf("round %d: no write-ahead log left: CloseAtExit closed the database: %v", round, err)
		}
		// The database file alone (the log ignored) holds the record
		// begun in this round: the first write's checkpoint ran.
		if got := fileOnlyStatus(t, path, id); got != string(audit.StatusRunning) && got != string(sandrun.StatusOK) {
			t.Fatalf("round %d: the database file alone has record %s as %q: the begun record was not checkpointed", round, id, got)
		}
	}
	log := sqliteLog(t, audit.Options{}, audit.SQLiteOptions{Path: path})
	got, err := log.List(context.Background(), audit.Filter{})
	if err != nil || len(got) != len(ids) {
		t.Fatalf("records after the exits: %d, %v; want %d", len(got), err, len(ids))
	}
	for _, id := range ids {
		e, err := log.Get(context.Background(), id)
		if err != nil || e.Status != sandrun.StatusOK || e.ExitCode != 0 {
			t.Fatalf("record %s after its process exited: %+v, %v; want complete and ok", id, e, err)
		}
	}
}

// fileOnlyStatus reads a record's status from the database file alone,
// ignoring the write-ahead log (immutable: SQLite reads the file as is).
func fileOnlyStatus(t *testing.T, path, id string) string {
	t.Helper()
	u := url.URL{Scheme: "file", Path: path, RawQuery: "mode=ro&immutable=1"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var status string
	if err := db.QueryRow(`SELECT status FROM sandrun_runs WHERE id = ?`, id).Scan(&status); err != nil {
		return "missing: " + err.Error()
	}
	return status
}

// helperRunAndExit records one run through a Sandbox (its record begun,
// then completed), then leaves as `sandrun run` does: a OneShot log,
// CloseAtExit and exit.
func helperRunAndExit(path string) {
	log, err := audit.New(audit.Options{Open: func(ctx context.Context) (audit.Store, error) {
		return audit.OpenSQLite(ctx, audit.SQLiteOptions{Path: path})
	}, OneShot: true})
	if err != nil {
		os.Exit(3)
	}
	sb, err := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{fakeBackend{}}, Recorder: log, Sanitizer: fakeSanitizer{}})
	if err != nil {
		os.Exit(4)
	}
	res, err := sb.Run(context.Background(), &sandrun.Request{Language: "python", Code: "print(1)"})
	if err != nil || res.Status != sandrun.StatusOK || log.Errors() != 0 {
		os.Exit(5)
	}
	if err := log.CloseAtExit(); err != nil {
		os.Exit(6)
	}
	os.Stdout.WriteString("recorded " + res.ID + "\n")
	os.Exit(0)
}
