package audit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/audit"
)

// mountTmpfs mounts a private tmpfs of the given size on a new temp dir
// (root only) and unmounts it when the test ends.
func mountTmpfs(t *testing.T, size string, flags uintptr) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("SANDRUN_TEST_STRICT") == "1" {
			t.Fatal("mounting a tmpfs needs root (scripts/test.sh runs as root)")
		}
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", flags|unix.MS_NOSUID|unix.MS_NODEV, "size="+size+",mode=0700"); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// readOnlyDir returns a directory the test process cannot write: a
// read-only tmpfs as root (root ignores permission bits), else a 0500
// directory.
func readOnlyDir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() == 0 {
		return mountTmpfs(t, "1m", unix.MS_RDONLY)
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	return dir
}

func runN(t *testing.T, sb *sandrun.Sandbox, n int, code func(i int) string) {
	t.Helper()
	for i := range n {
		res, err := sb.Run(context.Background(), &sandrun.Request{Language: "python", Code: code(i)})
		mustOK(t, res, err)
	}
}

// TestReadOnlyDirectory: the state directory cannot be written, so the
// database cannot even be created. Every run still returns its result;
// every lost record is counted and doctor says why.
func TestReadOnlyDirectory(t *testing.T) {
	dir := readOnlyDir(t)
	log := sqliteLog(t, audit.Options{}, audit.SQLiteOptions{Path: filepath.Join(dir, "sandrun", "audit.db")})
	sb := newSandbox(t, log)
	runN(t, sb, 3, func(int) string { return "print(1)" })
	if sb.AuditErrors() != 3 || log.Errors() != 3 {
		t.Fatalf("audit errors: sandbox %d, log %d; want 3", sb.AuditErrors(), log.Errors())
	}
	d := diagnosis(log)
	if !strings.Contains(d, "audit store: FAIL") || !strings.Contains(d, "audit write errors: FAIL 3 failed writes") {
		t.Fatalf("doctor:\n%s", d)
	}
	if !strings.Contains(d, "read-only file system") && !strings.Contains(d, "permission denied") {
		t.Fatalf("doctor does not name the cause:\n%s", d)
	}
}

// TestStorageTurnsReadOnly: the database exists and worked, then its
// file system is remounted read-only (a failing disk does this). Writes
// fail and are counted, runs go on, and the log can still be read.
func TestStorageTurnsReadOnly(t *testing.T) {
	dir := mountTmpfs(t, "4m", 0)
	path := filepath.Join(dir, "audit.db")
	first := sqliteLog(t, audit.Options{}, audit.SQLiteOptions{Path: path})
	runN(t, newSandbox(t, first), 2, func(int) string { return "print(1)" })
	if first.Errors() != 0 {
		t.Fatalf("%d errors before the remount", first.Errors())
	}
	first.Close()
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	log := sqliteLog(t, audit.Options{}, audit.SQLiteOptions{Path: path})
	sb := newSandbox(t, log)
	runN(t, sb, 2, func(int) string { return "print(2)" })
	if sb.AuditErrors() != 2 {
		t.Fatalf("audit errors %d, want 2", sb.AuditErrors())
	}
	d := diagnosis(log)
	if !strings.Contains(d, "audit store: ok") || !strings.Contains(d, "2 runs") ||
		!strings.Contains(d, "audit store writable: FAIL") || !strings.Contains(d, "readonly") ||
		!strings.Contains(d, "audit write errors: FAIL 2 failed writes") {
		t.Fatalf("doctor:\n%s", d)
	}
	// The log written before the remount is still readable.
	if n := countRuns(t, log); n != 2 {
		t.Fatalf("%d runs readable on the read-only file system, want 2", n)
	}
	t.Logf("doctor on a read-only store:\n%s", d)
}

// bigCode returns code of n bytes that does not compress or repeat.
func bigCode(n int) string {
	b := make([]byte, n/2)
	rand.Read(b)
	return "# " + hex.EncodeToString(b)
}

// TestDiskFullTmpfs fills a real (tiny) file system with entries that
// carry their code text. Writes start failing with SQLite's "database or
// disk is full"; runs keep their results, the failures are counted, doctor
// shows them, and the database stays intact and readable.
func TestDiskFullTmpfs(t *testing.T) {
	dir := mountTmpfs(t, "256k", 0)
	path := filepath.Join(dir, "audit.db")
	log := sqliteLog(t, audit.Options{StoreCode: true}, audit.SQLiteOptions{Path: path})
	sb := newSandbox(t, log)
	runN(t, sb, 30, func(int) string { return bigCode(24 << 10) })
	assertFullHandled(t, sb, log, path)
}

// TestDiskFullMaxPageCount simulates a full disk without root: SQLite's
// max_page_count caps the file a few pages above its empty size.
func TestDiskFullMaxPageCount(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	st, err := audit.OpenSQLite(context.Background(), audit.SQLiteOptions{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	var pages int
	if err := rawSQLite(t, path).QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	log := sqliteLog(t, audit.Options{StoreCode: true}, audit.SQLiteOptions{
		Path: path, Pragmas: []string{"max_page_count(" + strconv.Itoa(pages+12) + ")"}})
	sb := newSandbox(t, log)
	runN(t, sb, 10, func(int) string { return bigCode(16 << 10) })
	assertFullHandled(t, sb, log, path)
}

func assertFullHandled(t *testing.T, sb *sandrun.Sandbox, log *audit.Log, path string) {
	t.Helper()
	ctx := context.Background()
	if sb.AuditErrors() == 0 {
		t.Fatal("the store never filled up: the test did not test anything")
	}
	if log.Errors() != sb.AuditErrors() {
		t.Fatalf("log counted %d errors, sandbox %d", log.Errors(), sb.AuditErrors())
	}
	_, last := log.LastError()
	if !audit.IsFull(last) && !strings.Contains(last.Error(), "full") {
		t.Fatalf("last error is not a full disk: %v", last)
	}
	d := diagnosis(log)
	if !strings.Contains(d, "audit store writable: FAIL") || !strings.Contains(d, "audit write errors: FAIL") {
		t.Fatalf("doctor:\n%s", d)
	}
	got, err := log.List(ctx, audit.Filter{Limit: -1})
	if err != nil || len(got) == 0 {
		t.Fatalf("the log is not readable after filling up: %d entries, %v", len(got), err)
	}
	var check string
	if err := rawSQLite(t, path).QueryRow(`PRAGMA quick_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("quick_check: %q, %v", check, err)
	}
	t.Logf("%d entries stored, %d writes failed; doctor:\n%s", len(got), sb.AuditErrors(), d)
}
