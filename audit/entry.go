// Package audit records every sandrun run in a durable log: who ran what
// (by hash; the code text only when the operator asks for it), where, under
// which limits, and how it ended. It implements sandrun.Recorder.
//
// A Log writes through a Store: SQLite (modernc.org/sqlite, pure Go, one
// file in the user's state directory; the default) or PostgreSQL (pgx; for
// several sandrun nodes sharing one log). Writes are bounded by a timeout
// and run off the caller's path, so a hung or failing store costs a run
// its audit record, never its result; failures are logged, counted and
// shown by Diagnose (sandrun doctor).
package audit

import (
	"context"
	"errors"
	"time"

	"github.com/sandrun/sandrun"
)

// Entry is one run in the audit log. It never holds the program's output
// or a secret: detections are summaries (rule, stream, count).
type Entry struct {
	ID         string    `json:"id"`
	StartedAt  time.Time `json:"started_at"`
	CodeSHA256 string    `json:"code_sha256"`
	CodeSize   int       `json:"code_size"`
	// Code is stored only when the Log's StoreCode option is on.
	Code     string         `json:"code,omitempty"`
	Language string         `json:"language"`
	Backend  string         `json:"backend"`
	Limits   sandrun.Limits `json:"limits"`
	Status   sandrun.Status `json:"status"`
	ExitCode int            `json:"exit_code"`
	Signal   string         `json:"signal,omitempty"`
	// Error is the sandbox's message for the status (capped), never output.
	Error      string              `json:"error,omitempty"`
	Usage      sandrun.Usage       `json:"usage"`
	Sanitized  bool                `json:"sanitized"`
	Detections []sandrun.Detection `json:"detections"`
	Downgrades []string            `json:"downgrades,omitempty"`
	// Caller identifies who asked for the run (set by the server with
	// WithCaller); empty when unknown.
	Caller string `json:"caller,omitempty"`
	// Host is the node that ran it (several nodes may share a PostgreSQL log).
	Host    string `json:"host,omitempty"`
	Version string `json:"version"`
	// Session is the id of the session a step belongs to; empty for a
	// one-shot run.
	Session string `json:"session,omitempty"`
	// Writer identifies the process that began a record still running
	// (host, pid, start time), so that a later start can tell the run was
	// interrupted. Internal.
	Writer string `json:"-"`
}

// The statuses of records the log writes itself, besides a run's
// sandrun.Status: a record begun when its run started is "running" until
// the run ends; a running record whose process died is "interrupted".
const (
	StatusRunning     sandrun.Status = "running"
	StatusInterrupted sandrun.Status = "interrupted"
)

const interruptedMsg = "the process recording this run ended before the run did (a crash, kill -9 or power loss): its outcome is unknown"

// maxErrorLen caps the stored error message.
const maxErrorLen = 1024

// NewEntry builds the audit entry for a finished run. Code is copied only
// when storeCode is set. Limits are the request's as the Sandbox resolved
// them (the effective ones); for a request refused by validation, the
// ones it asked for.
func NewEntry(req *sandrun.Request, res *sandrun.Result, storeCode bool) *Entry {
	e := &Entry{
		ID:         res.ID,
		StartedAt:  res.StartedAt.UTC(),
		CodeSHA256: res.CodeSHA256,
		CodeSize:   len(req.Code),
		Language:   res.Language,
		Backend:    res.Backend,
		Limits:     req.Limits,
		Status:     res.Status,
		ExitCode:   res.ExitCode,
		Signal:     res.Signal,
		Error:      capString(res.Error, maxErrorLen),
		Usage:      res.Usage,
		Sanitized:  res.Sanitized,
		Detections: append([]sandrun.Detection{}, res.Detections...),
		Downgrades: append([]string(nil), res.Downgrades...),
		Session:    res.Session,
	}
	if e.Language == "" {
		e.Language = req.Language
	}
	if e.StartedAt.IsZero() {
		e.StartedAt = time.Now().UTC()
	}
	if storeCode {
		e.Code = req.Code
	}
	return e
}

func capString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// Filter selects entries for List. Zero fields match everything.
type Filter struct {
	Since, Until time.Time
	Status       sandrun.Status
	Backend      string
	Language     string
	Caller       string
	Session      string
	CodeSHA256   string
	// IDPrefix matches ids that start with it (for `audit show` with a
	// short id).
	IDPrefix string
	// Limit caps the number of entries (newest first); 0 means
	// DefaultListLimit, a negative value means no cap.
	Limit  int
	Offset int
}

// DefaultListLimit is the page size when Filter.Limit is 0.
const DefaultListLimit = 100

// Retention bounds the log. Zero fields mean no bound of that kind.
type Retention struct {
	MaxAge  time.Duration
	MaxRuns int
}

// ErrNotFound is returned by Get for an unknown id.
var ErrNotFound = errors.New("audit: no such run")

// callerKey is the context key for the caller identity.
type callerKey struct{}

// WithCaller returns a context that attributes the runs made with it to
// caller (an API key's name, a user, a client address). The HTTP server
// sets it per request; the Log stores it with each entry.
func WithCaller(ctx context.Context, caller string) context.Context {
	return context.WithValue(ctx, callerKey{}, caller)
}

// CallerFrom returns the caller set by WithCaller, or "".
func CallerFrom(ctx context.Context) string {
	s, _ := ctx.Value(callerKey{}).(string)
	return s
}
