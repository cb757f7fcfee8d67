package audit_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/audit"
)

// Issue 12 item 7: deleting (or replacing) the database file while the
// log holds it open sent every later record into the deleted file without
// an error. Now the write notices, is counted, the path is reopened and
// later records land in the file that is there.
func TestDeletedDatabaseIsNoticed(t *testing.T) {
	for _, how := range []string{"deleted", "replaced"} {
		t.Run(how, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.db")
			log := sqliteLog(t, audit.Options{}, audit.SQLiteOptions{Path: path})
			sb := newSandbox(t, log)
			res, err := sb.Run(context.Background(), &sandrun.Request{Language: "python", Code: "print(1)"})
			mustOK(t, res, err)
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				os.Remove(p)
			}
			if how == "replaced" {
				other := sqliteLog(t, audit.Options{}, audit.SQLiteOptions{Path: filepath.Join(filepath.Dir(path), "other.db")})
				if err := other.Insert(context.Background(), &audit.Entry{ID: "0ther", StartedAt: time.Now(), Status: sandrun.StatusOK}); err != nil {
					t.Fatal(err)
				}
				other.Close()
				if err := os.Rename(filepath.Join(filepath.Dir(path), "other.db"), path); err != nil {
					t.Fatal(err)
				}
			}
			res2, err := sb.Run(context.Background(), &sandrun.Request{Language: "python", Code: "print(2)"})
			mustOK(t, res2, err)
			if _, last := log.LastError(); log.Errors() != 1 || !errors.Is(last, audit.ErrReplaced) {
				t.Fatalf("errors %d, last %v; want the replacement counted once", log.Errors(), last)
			}
			// The record of the second run is in the file now at path.
			fresh := sqliteLog(t, audit.Options{}, audit.SQLiteOptions{Path: path})
			if e, err := fresh.Get(context.Background(), res2.ID); err != nil || e.Status != sandrun.StatusOK {
				t.Fatalf("the run after the %s file is not in it: %+v, %v", how, e, err)
			}
			if d := diagnosis(log); !strings.Contains(d, "deleted or replaced") {
				t.Fatalf("doctor does not say:\n%s", d)
			}
		})
	}
}

// A variation of the above: only the write-ahead log deleted (an operator
// cleaning up "*-wal" files). SQLite keeps writing into the deleted -wal
// it holds open: readers of the file see none of the later records, and
// a crash loses them; the log noticed nothing. Now it is the same as a
// deleted database: noticed, counted, reopened.
func TestDeletedWALIsNoticed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	log := sqliteLog(t, audit.Options{}, audit.SQLiteOptions{Path: path})
	sb := newSandbox(t, log)
	res, err := sb.Run(context.Background(), &sandrun.Request{Language: "python", Code: "print(1)"})
	mustOK(t, res, err)
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Fatalf("no write-ahead log to delete: %v", err)
	}
	for _, p := range []string{path + "-wal", path + "-shm"} {
		os.Remove(p)
	}
	res2, err := sb.Run(context.Background(), &sandrun.Request{Language: "python", Code: "print(2)"})
	mustOK(t, res2, err)
	if _, last := log.LastError(); log.Errors() != 1 || !errors.Is(last, audit.ErrReplaced) {
		t.Fatalf("errors %d, last %v; want the deleted write-ahead log counted once", log.Errors(), last)
	}
	// Another reader of the file (the log above still open) sees the run.
	fresh := sqliteLog(t, audit.Options{}, audit.SQLiteOptions{Path: path})
	if e, err := fresh.Get(context.Background(), res2.ID); err != nil || e.Status != sandrun.StatusOK {
		t.Fatalf("the run after the write-ahead log was deleted is not in the file: %+v, %v", e, err)
	}
	// And the log does not cry wolf: more runs, no more errors.
	for i := 0; i < 3; i++ {
		res, err := sb.Run(context.Background(), &sandrun.Request{Language: "python", Code: "print(3)"})
		mustOK(t, res, err)
	}
	if log.Errors() != 1 {
		t.Fatalf("errors %d after the reopen; want 1", log.Errors())
	}
}

// A record is written when a run starts and completed when it ends.
func TestRecordBegunThenCompleted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	log := sqliteLog(t, audit.Options{}, audit.SQLiteOptions{Path: path})
	started := make(chan struct{})
	release := make(chan struct{})
	sb, err := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{&gatedBackend{started, release}}, Recorder: log})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *sandrun.Result, 1)
	go func() {
		res, _ := sb.Run(context.Background(), &sandrun.Request{Language: "python", Code: "print(1)"})
		done <- res
	}()
	<-started
	var running []*audit.Entry
	for range 200 {
		if running, err = log.List(context.Background(), audit.Filter{Status: audit.StatusRunning}); err == nil && len(running) == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(running) != 1 || running[0].ExitCode != -1 {
		t.Fatalf("no running record while the run runs: %+v, %v", running, err)
	}
	close(release)
	res := <-done
	e, err := log.Get(context.Background(), res.ID)
	if err != nil || e.ID != running[0].ID || e.Status != sandrun.StatusOK || e.ExitCode != 0 {
		t.Fatalf("completed record %+v, %v", e, err)
	}
	if all, _ := log.List(context.Background(), audit.Filter{}); len(all) != 1 {
		t.Fatalf("%d records for one run", len(all))
	}
}

type gatedBackend struct{ started, release chan struct{} }

func (g *gatedBackend) Name() string                        { return "process" }
func (g *gatedBackend) Check(context.Context, string) error { return nil }
func (g *gatedBackend) Run(context.Context, *sandrun.Request) (*sandrun.Result, error) {
	close(g.started)
	<-g.release
	return &sandrun.Result{Status: sandrun.StatusOK, ExitCode: 0}, nil
}

// A process that dies with a run in flight leaves a running record; the
// next process on the host that opens the log marks it interrupted. The
// dying process is this test binary re-run as a helper (os/exec's
// helperCommand pattern), killed with SIGKILL.
func TestCrashLeavesInterruptedRecord(t *testing.T) {
	if p := os.Getenv("SANDRUN_AUDIT_HELPER_DB"); p != "" {
		helperBeginAndHang(p)
		return
	}
	path := filepath.Join(t.TempDir(), "audit.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLeavesInterruptedRecord$")
	cmd.Env = append(os.Environ(), "SANDRUN_AUDIT_HELPER_DB="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := out.Read(buf) // "begun\n" once the record is in
	if !strings.Contains(string(buf[:n]), "begun") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said %q", buf[:n])
	}
	// A live writer's record is left alone...
	log := sqliteLog(t, audit.Options{}, audit.SQLiteOptions{Path: path})
	if got, err := log.List(context.Background(), audit.Filter{Status: audit.StatusRunning}); err != nil || len(got) != 1 {
		t.Fatalf("running records while the writer lives: %d, %v", len(got), err)
	}
	log.Close()
	// ...until it dies.
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	log = sqliteLog(t, audit.Options{}, audit.SQLiteOptions{Path: path})
	got, err := log.List(context.Background(), audit.Filter{})
	if err != nil || len(got) != 1 || got[0].Status != audit.StatusInterrupted || !strings.Contains(got[0].Error, "kill -9") {
		t.Fatalf("after the crash: %+v, %v", got, err)
	}
	if d := diagnosis(log); !strings.Contains(d, "audit interrupted runs: FAIL 1 runs") {
		t.Fatalf("doctor does not warn:\n%s", d)
	}
}

func helperBeginAndHang(path string) {
	log, err := audit.New(audit.Options{Open: func(ctx context.Context) (audit.Store, error) {
		return audit.OpenSQLite(ctx, audit.SQLiteOptions{Path: path})
	}})
	if err != nil {
		os.Exit(3)
	}
	res := &sandrun.Result{ID: sandrun.NewID(), Language: "python", Backend: "process", StartedAt: time.Now()}
	if log.Begin(context.Background(), &sandrun.Request{Language: "python", Code: "x"}, res) != nil {
		os.Exit(4)
	}
	for range 500 {
		if got, _ := log.List(context.Background(), audit.Filter{Status: audit.StatusRunning}); len(got) == 1 {
			os.Stdout.WriteString("begun\n")
			time.Sleep(time.Minute)
			os.Exit(0)
		}
		time.Sleep(10 * time.Millisecond)
	}
	os.Exit(5)
}
