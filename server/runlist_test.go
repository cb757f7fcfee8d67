package server_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/server"
)

// listStore is a RunStore that lists too; it remembers the last filter.
type listStore struct {
	fakeStore
	runs []*sandrun.Result // newest first
	mu   sync.Mutex
	last server.RunFilter
}

func (l *listStore) List(_ context.Context, f server.RunFilter) ([]*sandrun.Result, error) {
	l.mu.Lock()
	l.last = f
	l.mu.Unlock()
	var out []*sandrun.Result
	for i, r := range l.runs {
		if i >= f.Offset && len(out) < f.Limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func (l *listStore) filter() server.RunFilter {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

type fakeAudit struct {
	n   int64
	err error
}

func (f fakeAudit) Errors() int64 { return f.n }
func (f fakeAudit) LastError() (time.Time, error) {
	if f.err == nil {
		return time.Time{}, nil
	}
	return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), f.err
}

func TestListRuns(t *testing.T) {
	e := newEnv(t, nil)
	if r := e.do(t, "GET", "/v1/runs", "", nil); r.code != http.StatusNotImplemented {
		t.Fatalf("no store: %d %s", r.code, r.body)
	}
	e = newEnv(t, func(o *server.Options) { o.Runs = fakeStore{} })
	if r := e.do(t, "GET", "/v1/runs", "", nil); r.code != http.StatusNotImplemented {
		t.Fatalf("a store that cannot list: %d %s", r.code, r.body)
	}

	st := &listStore{runs: []*sandrun.Result{{ID: "c"}, {ID: "b"}, {ID: "a"}}}
	e = newEnv(t, func(o *server.Options) { o.Runs = st })
	page := func(q string) server.RunList {
		t.Helper()
		r := e.do(t, "GET", "/v1/runs"+q, "", nil)
		if r.code != 200 {
			t.Fatalf("%s: %d %s", q, r.code, r.body)
		}
		var l server.RunList
		r.json(t, &l)
		return l
	}
	ids := func(l server.RunList) string {
		var s []string
		for _, r := range l.Runs {
			s = append(s, r.ID)
		}
		return strings.Join(s, ",")
	}
	if l := page(""); ids(l) != "c,b,a" || l.More || l.Limit != server.DefaultRunListLimit || l.Offset != 0 {
		t.Errorf("all: %s %+v", ids(l), l)
	}
	if l := page("?limit=2"); ids(l) != "c,b" || !l.More {
		t.Errorf("first page: %s more %v", ids(l), l.More)
	}
	if l := page("?limit=2&offset=2"); ids(l) != "a" || l.More || l.Offset != 2 {
		t.Errorf("second page: %s %+v", ids(l), l)
	}
	st.runs = nil
	if r := e.do(t, "GET", "/v1/runs", "", nil); !strings.Contains(string(r.body), `"runs":[]`) {
		t.Errorf("an empty list is not []: %s", r.body)
	}

	// Filters reach the store as given; aliases are normalized; without
	// tokens the caller is not restricted.
	page("?status=timeout&language=py&backend=jail&session=s1&since=2026-01-02T03:04:05Z&until=2026-01-03T00:00:00.5%2B01:00")
	f := st.filter()
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	until := time.Date(2026, 1, 2, 23, 0, 0, 5e8, time.UTC)
	if f.Status != sandrun.StatusTimeout || f.Language != "python" || f.Backend != "jail" || f.Session != "s1" || !f.Since.Equal(since) ||
		!f.Until.Equal(until) || f.Caller != "" {
		t.Errorf("filter %+v", f)
	}

	for q, field := range map[string]string{
		"?status=bogus": "status", "?since=yesterday": "since", "?until=2026-01-02": "until",
		"?limit=0": "limit", "?limit=501": "limit", "?limit=x": "limit", "?offset=-1": "offset",
	} {
		r := e.do(t, "GET", "/v1/runs"+q, "", nil)
		var b server.ErrorBody
		r.json(t, &b)
		if r.code != 400 || b.Field != field || !strings.Contains(b.Error, field) {
			t.Errorf("%s: %d %+v, want 400 naming %s", q, r.code, b, field)
		}
	}
}

// TestListRunsOwnCaller: with tokens a caller lists only its own runs,
// and WithCaller sees each request's caller (to record it with the run).
func TestListRunsOwnCaller(t *testing.T) {
	const secret = "sr_list-runs-test-secret-0123456789"
	st := &listStore{}
	var mu sync.Mutex
	var seen []string
	e := newEnv(t, func(o *server.Options) {
		o.Auth = tokenAuth(t, secret)
		o.Runs = st
		o.WithCaller = func(ctx context.Context, caller string) context.Context {
			mu.Lock()
			seen = append(seen, caller)
			mu.Unlock()
			return ctx
		}
	})
	if r := e.do(t, "GET", "/v1/runs", secret, nil); r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	if r := e.do(t, "POST", "/v1/runs", secret, strings.NewReader(`{"language":"bash","code":"echo hi"}`)); r.code != 200 {
		t.Fatalf("run: %d %s", r.code, r.body)
	}
	const name = "ci" // tokenAuth names the token ci
	if f := st.filter(); f.Caller != name {
		t.Errorf("listed for caller %q, want the token's name %q", f.Caller, name)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != name || seen[1] != name {
		t.Errorf("WithCaller saw %q, want the token's name twice", seen)
	}
}

func TestStatus(t *testing.T) {
	e := newEnv(t, nil)
	if r := e.post(t, "/v1/runs", `{"language":"bash","code":"echo hi"}`); r.code != 200 {
		t.Fatalf("run: %d %s", r.code, r.body)
	}
	if r := e.post(t, "/v1/runs", `{"language":"bash","code":"exit 3"}`); r.code != 200 {
		t.Fatalf("run: %d %s", r.code, r.body)
	}
	r := e.do(t, "GET", "/v1/status", "", nil)
	var s server.StatusBody
	r.json(t, &s)
	if r.code != 200 || s.Runs["ok"] != 1 || s.Runs["exit_error"] != 1 || s.InFlight != 0 || s.Queued != 0 ||
		s.MaxConcurrent < 1 || s.MaxQueue < 1 || s.Draining || s.StartedAt.IsZero() || s.Audit != nil || s.Warm != nil {
		t.Errorf("%d %s", r.code, r.body)
	}
	if _, ok := s.Rejected["queue_full"]; !ok {
		t.Errorf("rejected lacks its reasons: %v", s.Rejected)
	}

	e = newEnv(t, func(o *server.Options) { o.Audit = fakeAudit{n: 3, err: errors.New("disk full")} })
	r = e.do(t, "GET", "/v1/status", "", nil)
	s = server.StatusBody{}
	r.json(t, &s)
	if s.Audit == nil || s.Audit.Errors != 3 || s.Audit.LastError != "disk full" || s.Audit.LastErrorTime == nil {
		t.Errorf("audit section: %s", r.body)
	}
}
