package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/audit"
)

// fakeBackend "runs" code by echoing a fixed line plus whatever follows
// "echo:" in the code, so a test can make the program print a secret.
type fakeBackend struct{}

func (fakeBackend) Name() string                        { return "fake" }
func (fakeBackend) Check(context.Context, string) error { return nil }
func (fakeBackend) Run(_ context.Context, req *sandrun.Request) (*sandrun.Result, error) {
	out := "fake output\n"
	if _, s, ok := strings.Cut(req.Code, "echo:"); ok {
		out += s + "\n"
	}
	return &sandrun.Result{Status: sandrun.StatusOK, ExitCode: 0, Stdout: out,
		Usage: sandrun.Usage{WallMs: 3, CPUMs: 1, MemoryPeakBytes: 4096}}, nil
}

// fakeSanitizer redacts "SECRET-..." words the way the real one redacts
// keys, and reports a detection.
type fakeSanitizer struct{}

func (fakeSanitizer) SanitizeResult(res *sandrun.Result) {
	res.Sanitized = true
	n := 0
	for _, w := range strings.Fields(res.Stdout) {
		if strings.HasPrefix(w, "SECRET-") {
			res.Stdout = strings.ReplaceAll(res.Stdout, w, "[REDACTED_TEST]")
			n++
		}
	}
	if n > 0 {
		res.Detections = append(res.Detections, sandrun.Detection{Rule: "test-secret", Stream: "stdout", Count: n})
	}
}

func newSandbox(t *testing.T, rec sandrun.Recorder) *sandrun.Sandbox {
	t.Helper()
	sb, err := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{fakeBackend{}}, Recorder: rec, Sanitizer: fakeSanitizer{}})
	if err != nil {
		t.Fatal(err)
	}
	return sb
}

func sqliteLog(t *testing.T, o audit.Options, so audit.SQLiteOptions) *audit.Log {
	t.Helper()
	o.Open = func(ctx context.Context) (audit.Store, error) { return audit.OpenSQLite(ctx, so) }
	o.Describe = "sqlite " + so.Path
	if o.Version == "" {
		o.Version = "9.9.9-test"
	}
	log, err := audit.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	return log
}

func mustOK(t *testing.T, res *sandrun.Result, err error) {
	t.Helper()
	if err != nil || res.Status != sandrun.StatusOK || !strings.HasPrefix(res.Stdout, "fake output\n") {
		t.Fatalf("the run's result was lost: %+v, %v", res, err)
	}
}

// TestRecordEveryRun runs through a real Sandbox into SQLite and checks
// what the log holds: identity, hash, caller, version, detections without
// the secret, and no code text unless asked for.
func TestRecordEveryRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	log := sqliteLog(t, audit.Options{Host: "node7"}, audit.SQLiteOptions{Path: path})
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the database exists before the first run: %v", err)
	}
	sb := newSandbox(t, log)
	ctx := audit.WithCaller(context.Background(), "key:ci-bot")
	code := "x = 1 # echo:token SECRET-abc123xyz"
	res, err := sb.Run(ctx, &sandrun.Request{Language: "py", Code: code, Limits: sandrun.Limits{Memory: 64 << 20}})
	mustOK(t, res, err)
	if strings.Contains(res.Stdout, "SECRET-abc123xyz") {
		t.Fatal("fake sanitizer did not redact")
	}
	bad, _ := sb.Run(context.Background(), &sandrun.Request{Language: "cobol", Code: "x"})

	got, err := log.Get(ctx, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := audit.Entry{
		ID: res.ID, StartedAt: res.StartedAt.Truncate(time.Microsecond), CodeSHA256: res.CodeSHA256,
		CodeSize: len(code), Language: "python", Backend: "fake",
		Limits: sandrun.Limits{Memory: 64 << 20}.WithDefaults(), Status: sandrun.StatusOK,
		Usage: res.Usage, Sanitized: true, Detections: []sandrun.Detection{{Rule: "test-secret", Stream: "stdout", Count: 1}},
		Caller: "key:ci-bot", Host: "node7", Version: "9.9.9-test",
	}
	if a, b := mustJSON(t, got), mustJSON(t, want); a != b {
		t.Fatalf("entry:\n got %s\nwant %s", a, b)
	}
	rej, err := log.Get(ctx, bad.ID)
	if err != nil || rej.Status != sandrun.StatusRejected || rej.Caller != "" || !strings.Contains(rej.Error, "language") {
		t.Fatalf("rejected run: %+v, %v", rej, err)
	}
	list, err := log.List(ctx, audit.Filter{})
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %d entries, %v", len(list), err)
	}
	// Neither the secret the program printed nor the code text is on disk.
	log.Close()
	for _, f := range []string{path, path + "-wal"} {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte("SECRET-abc123xyz")) || bytes.Contains(b, []byte("x = 1 #")) {
			t.Fatalf("%s holds the secret or the code", f)
		}
	}
}

func TestStoreCodeOption(t *testing.T) {
	log := sqliteLog(t, audit.Options{StoreCode: true}, audit.SQLiteOptions{Path: filepath.Join(t.TempDir(), "a.db")})
	res, err := newSandbox(t, log).Run(context.Background(), &sandrun.Request{Language: "bash", Code: "echo hi"})
	mustOK(t, res, err)
	got, err := log.Get(context.Background(), res.ID)
	if err != nil || got.Code != "echo hi" {
		t.Fatalf("with StoreCode: %+v, %v", got, err)
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hungStore is a store whose Insert ignores its context and blocks until
// released: the worst driver behaviour.
type hungStore struct {
	audit.Store
	release chan struct{}
	inserts atomic.Int32
}

func (h *hungStore) Insert(ctx context.Context, e *audit.Entry) error {
	h.inserts.Add(1)
	<-h.release
	return nil
}
func (h *hungStore) Update(ctx context.Context, e *audit.Entry) error { return h.Insert(ctx, e) }
func (h *hungStore) Close() error                                     { return nil }
func (h *hungStore) Stats(context.Context) (audit.Stats, error) {
	return audit.Stats{Kind: "hung"}, nil
}
func (h *hungStore) CheckWritable(context.Context) error                        { return nil }
func (h *hungStore) List(context.Context, audit.Filter) ([]*audit.Entry, error) { return nil, nil }
func (h *hungStore) MarkInterrupted(context.Context, string, func(string) bool) (int64, error) {
	return 0, nil
}

func TestHungStoreNeverBlocksRuns(t *testing.T) {
	h := &hungStore{release: make(chan struct{})}
	log, err := audit.New(audit.Options{
		Open:         func(context.Context) (audit.Store, error) { return h, nil },
		WriteTimeout: 50 * time.Millisecond, MaxInFlight: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	sb := newSandbox(t, log)
	for i := range 3 {
		start := time.Now()
		res, err := sb.Run(context.Background(), &sandrun.Request{Language: "python", Code: "print(1)"})
		mustOK(t, res, err)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("run %d waited %v for the hung store", i, d)
		}
	}
	// Two writes hang (MaxInFlight); the third fails at once as stalled
	// rather than starting a third stuck goroutine.
	if h.inserts.Load() != 2 || sb.AuditErrors() != 3 || log.Errors() != 3 {
		t.Fatalf("inserts %d, sandbox errors %d, log errors %d; want 2, 3, 3", h.inserts.Load(), sb.AuditErrors(), log.Errors())
	}
	if _, last := log.LastError(); !errors.Is(last, audit.ErrStalled) {
		t.Fatalf("last error %v, want ErrStalled", last)
	}
	diag := diagnosis(log)
	if !strings.Contains(diag, "audit write errors: FAIL 3 failed writes") {
		t.Fatalf("doctor does not show the failures:\n%s", diag)
	}
	close(h.release) // the driver comes back: writes work again
	waitFor(t, func() bool { return log.Errors() == 3 && h.inserts.Load() == 2 })
	time.Sleep(10 * time.Millisecond)
	res, err := sb.Run(context.Background(), &sandrun.Request{Language: "python", Code: "print(2)"})
	mustOK(t, res, err)
	// Two writes for the run: its record begun, then completed.
	if sb.AuditErrors() != 3 || h.inserts.Load() != 4 {
		t.Fatalf("after release: sandbox errors %d, writes %d; want 3, 4", sb.AuditErrors(), h.inserts.Load())
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 200 && !cond(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if !cond() {
		t.Fatal("condition not reached")
	}
}

func diagnosis(log *audit.Log) string {
	var b strings.Builder
	for _, d := range log.Diagnose(context.Background()) {
		ok := "ok"
		if !d.OK {
			ok = "FAIL"
		}
		b.WriteString(d.Name + ": " + ok + " " + d.Detail + "\n")
	}
	return b.String()
}

// TestOpenFailureRetries: a store that cannot open fails writes fast and is
// not retried on every run, but is retried after RetryOpen.
func TestOpenFailureRetries(t *testing.T) {
	var opens atomic.Int32
	log, err := audit.New(audit.Options{
		Open: func(context.Context) (audit.Store, error) {
			opens.Add(1)
			return nil, errors.New("connection refused")
		},
		RetryOpen: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	sb := newSandbox(t, log)
	for range 3 {
		res, err := sb.Run(context.Background(), &sandrun.Request{Language: "python", Code: "print(1)"})
		mustOK(t, res, err)
	}
	if opens.Load() != 1 || sb.AuditErrors() != 3 {
		t.Fatalf("opens %d, errors %d; want 1 open, 3 errors", opens.Load(), sb.AuditErrors())
	}
	time.Sleep(250 * time.Millisecond)
	sb.Run(context.Background(), &sandrun.Request{Language: "python", Code: "print(1)"})
	if opens.Load() != 2 {
		t.Fatalf("opens %d after RetryOpen, want 2", opens.Load())
	}
	if d := diagnosis(log); !strings.Contains(d, "cannot open: connection refused") {
		t.Fatalf("doctor:\n%s", d)
	}
}

// TestSQLiteLockedStore: another process holds SQLite's write lock (a
// long transaction); the write gives up at its timeout, the run does not.
func TestSQLiteLockedStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	log := sqliteLog(t, audit.Options{WriteTimeout: 200 * time.Millisecond}, audit.SQLiteOptions{Path: path, BusyTimeout: time.Minute})
	if _, err := log.Store(context.Background()); err != nil {
		t.Fatal(err)
	}
	db := rawSQLite(t, path)
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	sb := newSandbox(t, log)
	start := time.Now()
	res, err := sb.Run(context.Background(), &sandrun.Request{Language: "python", Code: "print(1)"})
	mustOK(t, res, err)
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the run waited %v on a locked database (busy timeout is a minute)", d)
	}
	if sb.AuditErrors() != 1 {
		t.Fatalf("audit errors %d, want 1", sb.AuditErrors())
	}
	conn.ExecContext(context.Background(), "ROLLBACK")
}

func TestRetentionAppliedOnOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	ctx := context.Background()
	st, err := audit.OpenSQLite(ctx, audit.SQLiteOptions{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := st.Insert(ctx, entry(i, time.Now().Add(-time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	log := sqliteLog(t, audit.Options{Retention: audit.Retention{MaxRuns: 3}}, audit.SQLiteOptions{Path: path})
	res, err := newSandbox(t, log).Run(ctx, &sandrun.Request{Language: "python", Code: "print(1)"})
	mustOK(t, res, err)
	waitFor(t, func() bool { return countRuns(t, log) == 3 })
	if _, err := log.Get(ctx, res.ID); err != nil {
		t.Fatalf("the newest run was pruned: %v", err)
	}
}
