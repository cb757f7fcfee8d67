package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/audit"
	"github.com/sandrun/sandrun/internal/testenv"
)

// cli runs one command line and returns its exit code and output.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), &cliEnv{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

// auditEnv points the audit log at a fresh state directory and clears
// every other audit setting the environment may carry.
func auditEnv(t *testing.T) string {
	t.Helper()
	for _, k := range []string{"SANDRUN_AUDIT", "SANDRUN_AUDIT_PATH", "SANDRUN_AUDIT_DSN", "SANDRUN_AUDIT_CODE",
		"SANDRUN_AUDIT_MAX_AGE", "SANDRUN_AUDIT_MAX_RUNS", "SANDRUN_AUDIT_TIMEOUT"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	return filepath.Join(state, "sandrun", "audit.db")
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestAuditRecordsCLIRuns(t *testing.T) {
	db := auditEnv(t)
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatal("database exists before any run")
	}
	if code, _, stderr := cli(t, "run", "--lang", "bash", "-c", "echo audited"); code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	if code, _, _ := cli(t, "run", "--lang", "bash", "-c", "exit 3"); code != 3 {
		t.Fatalf("run exit 3: got %d", code)
	}
	code, out, stderr := cli(t, "audit", "list")
	if code != 0 {
		t.Fatalf("audit list: %d %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], sha("exit 3")) || !strings.Contains(lines[2], sha("echo audited")) ||
		!strings.Contains(lines[1], "exit_error") || !strings.Contains(lines[2], "local:") {
		t.Fatalf("audit list:\n%s", out)
	}
	_, out, _ = cli(t, "audit", "list", "--json", "--status", "ok")
	var runs []audit.Entry
	if err := json.Unmarshal([]byte(out), &runs); err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].CodeSHA256 != sha("echo audited") || runs[0].Backend == "" ||
		runs[0].Version != version || runs[0].Code != "" {
		t.Fatalf("audit list --json --status ok: %+v", runs)
	}
	code, out, _ = cli(t, "audit", "show", runs[0].ID[:8])
	if code != 0 || !strings.Contains(out, "code sha256:  "+sha("echo audited")) || !strings.Contains(out, "status:       ok") {
		t.Fatalf("audit show by prefix: %d\n%s", code, out)
	}
	if code, _, stderr := cli(t, "audit", "show", "ffffffff"); code != 1 || !strings.Contains(stderr, "no run") {
		t.Fatalf("audit show unknown: %d %s", code, stderr)
	}
	if _, out, _ := cli(t, "audit", "list", "--since", "1h", "--language", "sh", "--backend", "jail", "--limit", "1"); strings.Count(out, "\n") != 2 {
		t.Fatalf("filtered list:\n%s", out)
	}
	if _, out, _ := cli(t, "audit", "list", "--since", "2099-01-01"); strings.Count(out, "\n") != 1 {
		t.Fatalf("list of the future:\n%s", out)
	}
	if code, out, _ := cli(t, "audit", "prune"); code != 0 || out != "removed 0 runs\n" {
		t.Fatalf("prune: %d %q", code, out)
	}
	if code, out, _ := cli(t, "audit", "status"); code != 0 || !strings.Contains(out, "ok   audit store: sqlite "+db+": schema v"+strconv.Itoa(audit.SchemaVersion())+", 2 runs") ||
		!strings.Contains(out, "ok   audit store writable") {
		t.Fatalf("status: %d\n%s", code, out)
	}
	if code, out, _ := cli(t, "audit", "status", "--path", "/proc/nonexistent/audit.db"); code != 1 || !strings.Contains(out, "FAIL audit store: cannot open") {
		t.Fatalf("status of an unopenable store: %d\n%s", code, out)
	}
}

func TestAuditStoreCode(t *testing.T) {
	auditEnv(t)
	t.Setenv("SANDRUN_AUDIT_CODE", "1")
	cli(t, "run", "--lang", "bash", "-c", "echo kept")
	_, out, _ := cli(t, "audit", "list", "--json")
	if !strings.Contains(out, `"code":"echo kept"`) {
		t.Fatalf("code not stored with SANDRUN_AUDIT_CODE=1: %s", out)
	}
}

func TestAuditOff(t *testing.T) {
	db := auditEnv(t)
	t.Setenv("SANDRUN_AUDIT", "off")
	if code, _, _ := cli(t, "run", "--lang", "bash", "-c", "true"); code != 0 {
		t.Fatal("run failed")
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatalf("SANDRUN_AUDIT=off still created %s", db)
	}
	if code, _, stderr := cli(t, "audit", "list"); code != 1 || !strings.Contains(stderr, "audit log is off") {
		t.Fatalf("audit list with the log off: %d %s", code, stderr)
	}
}

// TestAuditUnwritable: the audit store cannot be created; the run still
// prints its output and exit code, and the failure is reported on stderr.
func TestAuditUnwritable(t *testing.T) {
	auditEnv(t)
	file := filepath.Join(t.TempDir(), "not-a-dir")
	os.WriteFile(file, nil, 0o600)
	t.Setenv("SANDRUN_AUDIT_PATH", filepath.Join(file, "audit.db"))
	// The CLI's logger writes to the process's stderr.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	code, out, _ := cli(t, "run", "--lang", "bash", "-c", "echo still-runs; exit 4")
	os.Stderr = saved
	w.Close()
	logged, _ := io.ReadAll(r)
	if code != 4 || out != "still-runs\n" || !bytes.Contains(logged, []byte("audit record failed")) {
		t.Fatalf("exit %d, stdout %q, log %q", code, out, logged)
	}
}

// TestAuditNoStateDir: with no HOME and no XDG_STATE_HOME the log has
// nowhere to go; that costs the record, not the run.
func TestAuditNoStateDir(t *testing.T) {
	auditEnv(t)
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "")
	os.Unsetenv("HOME")
	if code, out, _ := cli(t, "run", "--lang", "bash", "-c", "echo ran"); code != 0 || out != "ran\n" {
		t.Fatalf("run without a state directory: exit %d, %q", code, out)
	}
}

func TestAuditConfigFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{"HOME": "/home/u"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	c, err := auditConfigFromEnv(env())
	if err != nil || c.off || c.path != "/home/u/.local/state/sandrun/audit.db" || c.retention.MaxAge != 90*24*time.Hour ||
		c.retention.MaxRuns != 100000 || c.storeCode {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	c, err = auditConfigFromEnv(env("SANDRUN_AUDIT", "off", "SANDRUN_AUDIT_MAX_AGE", "0", "SANDRUN_AUDIT_MAX_RUNS", "10",
		"SANDRUN_AUDIT_DSN", "postgres://x@h/db", "SANDRUN_AUDIT_CODE", "yes"))
	if err != nil || !c.off || c.retention.MaxAge != 0 || c.retention.MaxRuns != 10 || c.dsn == "" || c.path != "" || !c.storeCode {
		t.Fatalf("set: %+v, %v", c, err)
	}
	for _, bad := range [][]string{
		{"SANDRUN_AUDIT", "maybe"}, {"SANDRUN_AUDIT_MAX_AGE", "soon"}, {"SANDRUN_AUDIT_MAX_RUNS", "-1"},
		{"SANDRUN_AUDIT_TIMEOUT", "0s"}, {"SANDRUN_AUDIT_DSN", "/var/lib/x.db"},
	} {
		if _, err := auditConfigFromEnv(env(bad...)); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%s=%s: error %v does not name the variable", bad[0], bad[1], err)
		}
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"24h":                  now.Add(-24 * time.Hour),
		"7d":                   now.Add(-7 * 24 * time.Hour),
		"2026-11-01T00:00:00Z": time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
	} {
		if got, err := parseSince(in, now); err != nil || !got.Equal(want) {
			t.Errorf("%s: %v, %v", in, got, err)
		}
	}
	if _, err := parseSince("yesterday", now); err == nil {
		t.Error("yesterday parsed")
	}
}

// TestAuditPostgresCLI: with SANDRUN_AUDIT_DSN set, runs go to PostgreSQL
// and `audit list` reads them from there. It uses a schema of its own
// (a unique name, dropped at the end) so that it can run beside the audit
// package's tests, and another run of itself, on the same database.
func TestAuditPostgresCLI(t *testing.T) {
	dsn := os.Getenv("SANDRUN_TEST_PG_DSN")
	if dsn == "" {
		testenv.Skip(t, "SANDRUN_TEST_PG_DSN is not set: scripts/setup.d/40-postgres.sh starts a PostgreSQL for this test")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	schema := strings.ReplaceAll(testenv.Name("sandrun_cli_test"), "-", "_")
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
	db := auditEnv(t)
	t.Setenv("SANDRUN_AUDIT_DSN", dsn+" search_path="+schema)
	if code, _, stderr := cli(t, "run", "--lang", "bash", "-c", "echo on-postgres"); code != 0 {
		t.Fatalf("run: %d %s", code, stderr)
	}
	_, out, _ := cli(t, "audit", "list")
	if !strings.Contains(out, sha("echo on-postgres")) {
		t.Fatalf("audit list on PostgreSQL:\n%s", out)
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM `+schema+`.sandrun_runs WHERE code_sha256 = $1`, sha("echo on-postgres")).Scan(&n); err != nil || n != 1 {
		t.Fatalf("row in PostgreSQL: %d, %v", n, err)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatal("the SQLite file was created although a DSN is set")
	}
}

// Issue 14: a session step shows up in `sandrun audit list` with its
// session's id (here the REPL's session, held by this process).
func TestAuditListsSessionSteps(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a sandboxed interpreter")
	}
	auditEnv(t)
	var out, errb bytes.Buffer
	env := &cliEnv{stdin: strings.NewReader("x = 20\nprint(x + 22)\n"), stdout: &out, stderr: &errb}
	if code := Main(context.Background(), env, []string{"repl", "--lang", "python", "--backend", "process"}); code != 0 || out.String() != "42\n" {
		t.Fatalf("repl: exit %d stdout %q stderr %q", code, out.String(), errb.String())
	}
	code, js, stderr := cli(t, "audit", "list", "--json")
	var runs []audit.Entry
	if code != 0 || json.Unmarshal([]byte(js), &runs) != nil || len(runs) != 2 {
		t.Fatalf("audit list --json: %d %s %s", code, js, stderr)
	}
	id := runs[0].Session
	if id == "" || runs[1].Session != id || runs[0].Status != "ok" || runs[0].CodeSHA256 != sha("print(x + 22)") {
		t.Fatalf("steps not recorded with their session: %+v", runs)
	}
	if _, table, _ := cli(t, "audit", "list", "--session", id); strings.Count(table, id) != 2 || !strings.Contains(table, "SESSION") {
		t.Fatalf("audit list --session:\n%s", table)
	}
}

// Issue 12 item 7: a run in flight when its process is killed (-9) leaves
// a record, marked interrupted by the next sandrun that opens the log.
func TestKilledRunIsInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a sandrun process and kills it")
	}
	auditEnv(t)
	// exec: the program is the sleep itself, which the process tier's
	// PDEATHSIG ends with its killed supervisor (a forked grandchild would
	// outlive it: issue 12 item 5, another task's).
	cmd := exec.Command(os.Args[0], "run", "--lang", "bash", "--backend", "process", "-c", "exec sleep 30")
	cmd.Env = append(os.Environ(), "SANDRUN_TEST_CLI=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var runs []audit.Entry
	for i := 0; ; i++ {
		_, js, _ := cli(t, "audit", "list", "--json")
		runs = nil
		if json.Unmarshal([]byte(js), &runs) == nil && len(runs) == 1 && runs[0].Status == audit.StatusRunning {
			break
		}
		if i == 500 {
			t.Fatalf("no running record while the run runs: %s", js)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	code, js, _ := cli(t, "audit", "list", "--json", "--status", "interrupted")
	runs = nil
	if code != 0 || json.Unmarshal([]byte(js), &runs) != nil || len(runs) != 1 || runs[0].CodeSHA256 != sha("exec sleep 30") {
		t.Fatalf("after kill -9: %d %s", code, js)
	}
}

// `sandrun audit show` printed the record's code (the program's, when
// SANDRUN_AUDIT_CODE=1 keeps it) and the other values raw: a run's code
// with OSC 0, ESC[8m and ESC[2J set the operator's window title, hid text
// and cleared the screen when the record was shown. On a terminal every
// value is escaped, as the program's output is by `run`.
func TestAuditShowEscapesForTerminal(t *testing.T) {
	evil := "print(1) # \x1b]0;PWNED\x07\x1b[8mhidden\x1b[2J"
	e := &audit.Entry{ID: "0123456789ab", Status: sandrun.StatusExitError, Error: "the step raised \x1b[31mErr\u202e", Code: evil, Caller: "addr:127.0.0.1"}
	var term, pipe bytes.Buffer
	printEntry(&term, e, true)
	if strings.ContainsAny(term.String(), "\x1b\x07\u202e") || !strings.Contains(term.String(), `\x1b]0;PWNED\x07`) {
		t.Fatalf("on a terminal: %q", term.String())
	}
	printEntry(&pipe, e, false)
	if !strings.Contains(pipe.String(), evil) {
		t.Fatalf("to a pipe the code is kept as it is: %q", pipe.String())
	}
}
