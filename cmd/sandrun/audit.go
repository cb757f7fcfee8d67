package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/audit"
	"github.com/sandrun/sandrun/internal/termsafe"
)

// auditConfig is the audit log's configuration, read from the environment
// so that run, serve and mcp share it without each growing flags:
//
//	SANDRUN_AUDIT=off          no audit log
//	SANDRUN_AUDIT_PATH=FILE    SQLite file (default: the state directory)
//	SANDRUN_AUDIT_DSN=DSN      PostgreSQL (postgres://... or key=value)
//	SANDRUN_AUDIT_CODE=1       store the code text too (off: hash only)
//	SANDRUN_AUDIT_MAX_AGE=90d  retention by age (0: keep forever)
//	SANDRUN_AUDIT_MAX_RUNS=N   retention by count (0: no cap)
//	SANDRUN_AUDIT_TIMEOUT=2s   bound on one write
type auditConfig struct {
	off       bool
	path, dsn string
	storeCode bool
	retention audit.Retention
	timeout   time.Duration
	pathErr   error // no default path could be found
}

// Defaults: about three months, at most 100,000 runs.
const (
	defaultAuditMaxAge  = 90 * 24 * time.Hour
	defaultAuditMaxRuns = 100000
)

func auditConfigFromEnv(getenv func(string) string) (auditConfig, error) {
	c := auditConfig{
		path: getenv("SANDRUN_AUDIT_PATH"), dsn: getenv("SANDRUN_AUDIT_DSN"),
		retention: audit.Retention{MaxAge: defaultAuditMaxAge, MaxRuns: defaultAuditMaxRuns},
	}
	var errs []error
	bad := func(name string, err error) { errs = append(errs, fmt.Errorf("%s: %w", name, err)) }
	boolEnv := func(name string) bool {
		v := getenv(name)
		if v == "" {
			return false
		}
		switch strings.ToLower(v) {
		case "on", "yes":
			return true
		case "off", "no":
			return false
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad(name, fmt.Errorf("%q is not on/off", v))
		}
		return b
	}
	if v := getenv("SANDRUN_AUDIT"); v != "" {
		c.off = !boolEnv("SANDRUN_AUDIT")
	}
	c.storeCode = boolEnv("SANDRUN_AUDIT_CODE")
	if v := getenv("SANDRUN_AUDIT_MAX_AGE"); v != "" {
		d, err := parseAge(v)
		if err != nil {
			bad("SANDRUN_AUDIT_MAX_AGE", err)
		}
		c.retention.MaxAge = d
	}
	if v := getenv("SANDRUN_AUDIT_MAX_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			bad("SANDRUN_AUDIT_MAX_RUNS", fmt.Errorf("%q is not a count", v))
		}
		c.retention.MaxRuns = n
	}
	if v := getenv("SANDRUN_AUDIT_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad("SANDRUN_AUDIT_TIMEOUT", fmt.Errorf("%q is not a positive duration", v))
		}
		c.timeout = d
	}
	if c.dsn != "" && !audit.IsPostgresDSN(c.dsn) {
		bad("SANDRUN_AUDIT_DSN", errors.New("want a PostgreSQL DSN (postgres://... or key=value pairs); use SANDRUN_AUDIT_PATH for a SQLite file"))
	}
	if c.path == "" && c.dsn == "" {
		// No state directory is a store failure (counted, logged, the run
		// goes on), not a configuration error that stops every run.
		c.path, c.pathErr = audit.DefaultSQLitePath(getenv)
	}
	return c, errors.Join(errs...)
}

// parseAge is a duration that also takes days ("90d"); "0" means forever.
func parseAge(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		d, err := strconv.Atoi(n)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(d) * 24 * time.Hour, nil
	}
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration (e.g. 720h, 90d)", s)
	}
	return d, nil
}

// newAuditLog builds the audit log from the environment; nil when it is
// off. Nothing is opened until the first run is recorded.
// oneShot: the command records a run and exits (audit.Options.OneShot).
func newAuditLog(logger *slog.Logger, oneShot bool) (*audit.Log, error) {
	c, err := auditConfigFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	return c.log(logger, oneShot)
}

func (c auditConfig) log(logger *slog.Logger, oneShot bool) (*audit.Log, error) {
	if c.off {
		return nil, nil
	}
	o := audit.Options{StoreCode: c.storeCode, Version: version, Retention: c.retention,
		WriteTimeout: c.timeout, Logger: logger, OneShot: oneShot}
	if c.dsn != "" {
		dsn := c.dsn
		o.Describe = "postgres"
		o.Open = func(ctx context.Context) (audit.Store, error) {
			return audit.OpenPostgres(ctx, audit.PostgresOptions{DSN: dsn})
		}
	} else {
		path, pathErr := c.path, c.pathErr
		o.Describe = "sqlite " + path
		o.Open = func(ctx context.Context) (audit.Store, error) {
			if pathErr != nil {
				return nil, pathErr
			}
			return audit.OpenSQLite(ctx, audit.SQLiteOptions{Path: path})
		}
	}
	return audit.New(o)
}

// recorder returns l as a Recorder, or a nil interface when the log is
// off (a nil *audit.Log in an interface would not be nil).
func recorder(l *audit.Log) sandrun.Recorder {
	if l == nil {
		return nil
	}
	return l
}

// warmAudit starts opening the audit store while the program runs.
func (a *app) warmAudit() {
	if a.audit != nil {
		a.audit.Warm()
	}
}

// localCaller names the user of a CLI run in the log.
func localCaller() string {
	if u, err := user.Current(); err == nil {
		return "local:" + u.Username
	}
	return fmt.Sprintf("local:uid=%d", os.Getuid())
}

func cmdAudit(ctx context.Context, env *cliEnv, args []string) error {
	usage := "usage: sandrun audit list [flags] | show ID [--json] | prune | status"
	if len(args) == 0 {
		return &usageError{msg: usage}
	}
	switch args[0] {
	case "list":
		return auditList(ctx, env, args[1:])
	case "show":
		return auditShow(ctx, env, args[1:])
	case "prune":
		return auditPrune(ctx, env, args[1:])
	case "status":
		return auditStatus(ctx, env, args[1:])
	case "-h", "--help", "help":
		fmt.Fprintln(env.stderr, usage)
		return nil
	}
	return &usageError{msg: fmt.Sprintf("unknown audit command %q; %s", args[0], usage)}
}

// openAuditFlags registers --path and --dsn (overriding the environment)
// and returns a function that builds the log after parsing.
func openAuditFlags(fs *flag.FlagSet) func() (*audit.Log, error) {
	path := fs.String("path", "", "SQLite audit file (default $SANDRUN_AUDIT_PATH or the state directory)")
	dsn := fs.String("dsn", "", "PostgreSQL audit DSN (default $SANDRUN_AUDIT_DSN)")
	return func() (*audit.Log, error) {
		c, err := auditConfigFromEnv(os.Getenv)
		if err != nil {
			return nil, err
		}
		switch {
		case *dsn != "":
			if !audit.IsPostgresDSN(*dsn) {
				return nil, &usageError{msg: "--dsn: want a PostgreSQL DSN (postgres://... or key=value pairs)"}
			}
			c.dsn, c.path = *dsn, ""
		case *path != "":
			c.path, c.dsn = *path, ""
		}
		if c.off && *dsn == "" && *path == "" {
			return nil, errors.New("the audit log is off (SANDRUN_AUDIT=off); give --path or --dsn to read one")
		}
		c.off = false
		return c.log(slog.New(slog.DiscardHandler), false)
	}
}

func auditList(ctx context.Context, env *cliEnv, args []string) error {
	fs := flag.NewFlagSet("audit list", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	open := openAuditFlags(fs)
	since := fs.String("since", "", "only runs since: a duration ago (24h, 7d) or a time (2026-11-01, RFC 3339)")
	status := fs.String("status", "", "only runs with this status (ok, exit_error, timeout, ...)")
	backend := fs.String("backend", "", "only runs on this backend")
	language := fs.String("language", "", "only runs in this language")
	caller := fs.String("caller", "", "only runs by this caller")
	sessionID := fs.String("session", "", "only the steps of this session")
	limit := fs.Int("limit", 50, "at most this many runs, newest first (0: all)")
	asJSON := fs.Bool("json", false, "print JSON (one array)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &usageError{err: err}
	}
	if fs.NArg() > 0 {
		return &usageError{msg: fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	f := audit.Filter{Backend: *backend, Caller: *caller, Session: *sessionID, Limit: *limit}
	if *limit == 0 {
		f.Limit = -1
	} else if *limit < 0 {
		return &usageError{msg: "--limit must not be negative"}
	}
	if *language != "" {
		f.Language = sandrun.NormalizeLanguage(*language)
	}
	if *status != "" {
		if !knownStatus(*status) {
			return &usageError{msg: fmt.Sprintf("--status: unknown status %q (have: %s)", *status, statusNames())}
		}
		f.Status = sandrun.Status(*status)
	}
	if *since != "" {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			return &usageError{msg: "--since: " + err.Error()}
		}
		f.Since = t
	}
	log, err := open()
	if err != nil {
		return err
	}
	defer log.Close()
	runs, err := log.List(ctx, f)
	if err != nil {
		return err
	}
	if *asJSON {
		if runs == nil {
			runs = []*audit.Entry{}
		}
		return json.NewEncoder(env.stdout).Encode(runs)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTARTED (UTC)\tLANGUAGE\tBACKEND\tSTATUS\tEXIT\tWALL\tREDACTED\tCALLER\tSESSION\tCODE SHA256")
	for _, e := range runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%dms\t%d\t%s\t%s\t%s\n", e.ID[:min(12, len(e.ID))],
			e.StartedAt.UTC().Format("2006-01-02 15:04:05"), e.Language, orDash(e.Backend), e.Status,
			e.ExitCode, e.Usage.WallMs, redactions(e), orDash(e.Caller), orDash(e.Session), e.CodeSHA256)
	}
	return tw.Flush()
}

func redactions(e *audit.Entry) int {
	n := 0
	for _, d := range e.Detections {
		n += d.Count
	}
	return n
}

// auditStatuses are the statuses a record may have: a run's, and the
// log's own running and interrupted.
func auditStatuses() []sandrun.Status {
	return append(sandrun.AllStatuses(), audit.StatusRunning, audit.StatusInterrupted)
}

func knownStatus(s string) bool {
	for _, st := range auditStatuses() {
		if string(st) == s {
			return true
		}
	}
	return false
}

func statusNames() string {
	var n []string
	for _, st := range auditStatuses() {
		n = append(n, string(st))
	}
	return strings.Join(n, ", ")
}

// parseSince takes "24h", "7d" (ago from now), a date or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := parseAge(s); err == nil && s != "0" {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither a duration (24h, 7d) nor a time (2026-11-01, RFC 3339)", s)
}

func auditShow(ctx context.Context, env *cliEnv, args []string) error {
	fs := flag.NewFlagSet("audit show", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	open := openAuditFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if len(pos) != 1 {
		return &usageError{msg: "usage: sandrun audit show ID (a full id, or a unique prefix of at least 6 characters)"}
	}
	log, err := open()
	if err != nil {
		return err
	}
	defer log.Close()
	e, err := findRun(ctx, log, strings.ToLower(pos[0]))
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(e)
	}
	printEntry(env.stdout, e, escapeAuto.on(env.stdout))
	return nil
}

// findRun looks a run up by id, then by unique id prefix.
func findRun(ctx context.Context, log *audit.Log, id string) (*audit.Entry, error) {
	e, err := log.Get(ctx, id)
	if err == nil || !errors.Is(err, audit.ErrNotFound) {
		return e, err
	}
	if len(id) < 6 {
		return nil, fmt.Errorf("no run %q (a prefix must have at least 6 characters)", id)
	}
	got, err := log.List(ctx, audit.Filter{IDPrefix: id, Limit: 2})
	switch {
	case err != nil:
		return nil, err
	case len(got) == 0:
		return nil, fmt.Errorf("no run %q in the audit log", id)
	case len(got) > 1:
		return nil, fmt.Errorf("%q matches several runs; give more of the id", id)
	}
	return got[0], nil
}

// printEntry writes a record for a person. Much of it is the program's
// (its code, an exception's name in an error, the host names it tried):
// on a terminal (escape) every value is escaped as the program's output
// is, so a record cannot set the operator's window title, hide text or
// clear the screen.
func printEntry(w io.Writer, e *audit.Entry, escape bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	esc := func(v string) string {
		if escape {
			return termsafe.Escape(v)
		}
		return v
	}
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, esc(v))
		}
	}
	row("id", e.ID)
	row("started", e.StartedAt.UTC().Format(time.RFC3339Nano))
	row("status", string(e.Status))
	row("exit code", strconv.Itoa(e.ExitCode))
	row("signal", e.Signal)
	row("error", e.Error)
	row("language", e.Language)
	row("backend", e.Backend)
	row("code sha256", e.CodeSHA256)
	row("code size", fmt.Sprintf("%d bytes", e.CodeSize))
	l := e.Limits
	row("limits", fmt.Sprintf("wall %s, cpu %s, memory %s, processes %d, open files %d, file size %s, output %s, work dir %s",
		l.WallTime, l.CPUTime, l.Memory, l.Processes, l.OpenFiles, l.FileSize, l.Output, l.WorkDir))
	row("usage", fmt.Sprintf("wall %d ms, cpu %d ms, memory peak %s", e.Usage.WallMs, e.Usage.CPUMs, sandrun.Bytes(e.Usage.MemoryPeakBytes)))
	if n := e.Usage.Network; n != nil {
		row("network", fmt.Sprintf("up %s, down %s, %d connections, %d refused%s", sandrun.Bytes(n.BytesUp), sandrun.Bytes(n.BytesDown),
			n.Connections, n.Refused, map[bool]string{true: ", cap hit: " + n.LimitHit}[n.LimitHit != ""]))
		for _, d := range n.Destinations {
			what := "allowed"
			if !d.Allowed {
				what = "refused: " + d.Reason
			}
			row("destination", fmt.Sprintf("%s:%d %s (%d attempts)", d.Host, d.Port, what, d.Attempts))
		}
	}
	row("sanitized", strconv.FormatBool(e.Sanitized))
	for _, d := range e.Detections {
		row("detection", fmt.Sprintf("%s in %s: %d", d.Rule, d.Stream, d.Count))
	}
	row("downgrades", strings.Join(e.Downgrades, ", "))
	row("caller", e.Caller)
	row("session", e.Session)
	row("host", e.Host)
	row("sandrun", e.Version)
	tw.Flush()
	if e.Code != "" {
		fmt.Fprintf(w, "code:\n%s\n", esc(e.Code))
	}
}

func auditPrune(ctx context.Context, env *cliEnv, args []string) error {
	return withAuditLog(env, "audit prune", args, func(log *audit.Log) error {
		n, err := log.Prune(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "removed %d runs\n", n)
		return nil
	})
}

// withAuditLog parses the flags of an audit subcommand that takes only
// the store's (--path, --dsn), opens the store and runs do on it.
func withAuditLog(env *cliEnv, name string, args []string, do func(*audit.Log) error) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	open := openAuditFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &usageError{err: err}
	}
	log, err := open()
	if err != nil {
		return err
	}
	defer log.Close()
	return do(log)
}

// auditStatus prints the store's health (the lines doctor shows) and exits
// 1 when one of them fails.
func auditStatus(ctx context.Context, env *cliEnv, args []string) error {
	return withAuditLog(env, "audit status", args, func(log *audit.Log) error {
		failed := false
		for _, d := range log.Diagnose(ctx) {
			mark := "ok  "
			switch {
			case d.Warn:
				mark = "WARN"
			case !d.OK:
				mark, failed = "FAIL", true
			}
			fmt.Fprintf(env.stdout, "%s %s: %s\n", mark, d.Name, d.Detail)
		}
		if failed {
			return &exitError{1}
		}
		return nil
	})
}
