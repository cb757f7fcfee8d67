package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sandrun/sandrun"
)

// GET /v1/runs: the run history (the audit log), newest first, with
// filters. The web console's history view reads it; so can any client.
//
// Query parameters (all optional): status, language, backend, session (the
// steps of one session), since and
// until (RFC 3339 times; since inclusive, until exclusive), limit (1 to
// MaxRunListLimit, default DefaultRunListLimit) and offset. A bad value is
// a 400 naming the parameter.
//
// Ownership: when the server has tokens, a caller lists only the runs
// recorded under its own name (Options.WithCaller records it); without
// tokens the server is a loopback, single-user one and lists every run.

// RunFilter selects runs for RunLister.List. Zero fields match
// everything.
type RunFilter struct {
	Status   sandrun.Status
	Language string
	Backend  string
	// Session keeps only the steps of that session.
	Session string
	// Caller, when set, keeps only the runs recorded under that caller.
	Caller       string
	Since, Until time.Time
	Limit        int // at least 1
	Offset       int
}

// RunLister is a RunStore that can also list runs (the audit log). A
// RunStore that is not one answers GET /v1/runs with 501.
type RunLister interface {
	List(ctx context.Context, f RunFilter) ([]*sandrun.Result, error)
}

// RunList answers GET /v1/runs. The runs carry what the audit log keeps:
// metadata, status, usage and detections, never the output.
type RunList struct {
	Runs []*sandrun.Result `json:"runs"`
	// More says that runs past this page match too (ask again with
	// offset + limit).
	More   bool `json:"more"`
	Limit  int  `json:"limit"`
	Offset int  `json:"offset"`
}

// Page sizes of GET /v1/runs.
const (
	DefaultRunListLimit = 50
	MaxRunListLimit     = 500
)

// runFilterParams are the query parameters of GET /v1/runs.
var runFilterParams = []string{"status", "language", "backend", "session", "since", "until", "limit", "offset"}

// runFilter reads the query; the error names the parameter.
func runFilter(q map[string][]string) (RunFilter, *FieldError) {
	f := RunFilter{Limit: DefaultRunListLimit}
	// A filter this API does not have is refused: ignored, it would
	// answer every run as if it had filtered them.
	for k := range q {
		if !slices.Contains(runFilterParams, k) {
			return f, &FieldError{Field: k, Message: fmt.Sprintf("%s: not a filter of this list (have: %s)", k, strings.Join(runFilterParams, ", "))}
		}
	}
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if s := get("status"); s != "" {
		if !slices.Contains(sandrun.AllStatuses(), sandrun.Status(s)) {
			return f, &FieldError{Field: "status", Message: fmt.Sprintf("status: %q is not a run status (see /openapi.json)", s)}
		}
		f.Status = sandrun.Status(s)
	}
	if s := get("language"); s != "" {
		f.Language = sandrun.NormalizeLanguage(s)
	}
	f.Backend = get("backend")
	f.Session = get("session")
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if s := get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return f, &FieldError{Field: p.name, Message: fmt.Sprintf("%s: %q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", p.name, s)}
			}
			*p.t = t
		}
	}
	for _, p := range []struct {
		name     string
		v        *int
		min, max int
	}{{"limit", &f.Limit, 1, MaxRunListLimit}, {"offset", &f.Offset, 0, 1 << 30}} {
		if s := get(p.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < p.min || n > p.max {
				return f, &FieldError{Field: p.name, Message: fmt.Sprintf("%s: want a whole number from %d to %d, not %q", p.name, p.min, p.max, s)}
			}
			*p.v = n
		}
	}
	return f, nil
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) {
	lister, ok := s.opts.Runs.(RunLister)
	if !ok {
		writeError(w, http.StatusNotImplemented, "",
			"this server keeps no run history: start it with the audit log enabled to list runs")
		return
	}
	f, ferr := runFilter(r.URL.Query())
	if ferr != nil {
		writeJSON(w, http.StatusBadRequest, ErrorBody{Error: ferr.Message, Code: "bad_request", Field: ferr.Field, Errors: []FieldError{*ferr}})
		return
	}
	if s.opts.Auth.Enabled() {
		f.Caller = Caller(r.Context())
	}
	page := f.Limit
	f.Limit++ // one more, to say whether there is more
	runs, err := lister.List(r.Context(), f)
	if err != nil {
		s.log.Error("listing runs from the store", "err", err)
		writeError(w, http.StatusInternalServerError, "", "the run store failed")
		return
	}
	body := RunList{Runs: runs, Limit: page, Offset: f.Offset}
	if len(runs) > page {
		body.Runs, body.More = runs[:page], true
	}
	if body.Runs == nil {
		body.Runs = []*sandrun.Result{}
	}
	writeJSON(w, http.StatusOK, body)
}
