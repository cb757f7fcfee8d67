package sessionhttp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/session"
	"github.com/sandrun/sandrun/session/sessionhttp"
	"github.com/sandrun/sandrun/session/sessiontest"
)

func server(t *testing.T, max int) (*sessionhttp.Client, *httptest.Server) {
	t.Helper()
	b := sessiontest.Backends()[0]
	m, err := session.New(session.Options{Sandbox: sessiontest.Sandbox(t, sandrun.Options{}), Launchers: map[string]sandrun.Launcher{b: sessiontest.Launcher(t, b)}, MaxSessions: max})
	if err != nil {
		t.Fatal(err)
	}
	// The test's "auth": the caller is named by a header.
	h := sessionhttp.Handler(m, sessionhttp.Options{Owner: func(r *http.Request) string { return r.Header.Get("X-Test-Owner") }})
	mux := http.NewServeMux()
	mux.Handle("/v1/sessions", h)
	mux.Handle("/v1/sessions/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); _ = m.Shutdown() })
	return &sessionhttp.Client{BaseURL: srv.URL, HTTP: srv.Client()}, srv
}

func apiCode(err error) int {
	var ae *sessionhttp.APIError
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

func TestRoundTrip(t *testing.T) {
	c, srv := server(t, 1)
	ctx := context.Background()
	in, err := c.Create(ctx, session.Spec{Language: "python", IdleTimeout: sandrun.Duration(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if in.State != session.StateIdle || in.Language != "python" {
		t.Fatalf("created %+v", in)
	}
	if _, err := c.Run(ctx, in.ID, session.RunRequest{Code: "n = 20"}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Run(ctx, in.ID, session.RunRequest{Code: "print(n + 1)"})
	if err != nil || res.Status != sandrun.StatusOK || res.Stdout != "21\n" {
		t.Fatalf("run: %v %+v", err, res)
	}
	ls, err := c.List(ctx)
	if err != nil || len(ls) != 1 || ls[0].Runs != 2 {
		t.Fatalf("list: %v %+v", err, ls)
	}
	if _, err := c.Create(ctx, session.Spec{Language: "python"}); apiCode(err) != http.StatusTooManyRequests {
		t.Fatalf("over the cap: %v", err)
	}
	if _, err := c.Create(ctx, session.Spec{Language: "python", Limits: sandrun.Limits{Memory: 1}}); apiCode(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "limits.memory") {
		t.Fatalf("bad limits: %v", err)
	}
	if _, err := c.Run(ctx, "nope", session.RunRequest{Code: "1"}); apiCode(err) != http.StatusNotFound {
		t.Fatalf("unknown id: %v", err)
	}
	// Unknown fields are refused by name.
	resp, err := srv.Client().Post(srv.URL+"/v1/sessions/"+in.ID+"/run", "application/json", strings.NewReader(`{"code":"1","cod":"x"}`))
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown field: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	fin, err := c.Close(ctx, in.ID)
	if err != nil || fin.State != session.StateClosed {
		t.Fatalf("close: %v %+v", err, fin)
	}
	if _, err := c.Get(ctx, in.ID); apiCode(err) != http.StatusNotFound {
		t.Fatalf("get after close: %v", err)
	}
}

type ownerTransport struct {
	name string
	base http.RoundTripper
}

func (o ownerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Test-Owner", o.name)
	return o.base.RoundTrip(r)
}

// TestOwnership: a session is visible and usable only by its creator.
func TestOwnership(t *testing.T) {
	_, srv := server(t, 4)
	as := func(name string) *sessionhttp.Client {
		return &sessionhttp.Client{BaseURL: srv.URL, HTTP: &http.Client{Transport: ownerTransport{name, srv.Client().Transport}}}
	}
	alice, bob := as("alice"), as("bob")
	ctx := context.Background()
	in, err := alice.Create(ctx, session.Spec{Language: "python"})
	if err != nil {
		t.Fatal(err)
	}
	if in.Owner != "alice" {
		t.Fatalf("owner %q", in.Owner)
	}
	if _, err := bob.Run(ctx, in.ID, session.RunRequest{Code: "print(1)"}); apiCode(err) != http.StatusNotFound {
		t.Fatalf("bob ran in alice's session: %v", err)
	}
	if _, err := bob.Get(ctx, in.ID); apiCode(err) != http.StatusNotFound {
		t.Fatalf("bob read alice's session: %v", err)
	}
	if _, err := bob.Close(ctx, in.ID); apiCode(err) != http.StatusNotFound {
		t.Fatalf("bob closed alice's session: %v", err)
	}
	if ls, err := bob.List(ctx); err != nil || len(ls) != 0 {
		t.Fatalf("bob lists %v %v", ls, err)
	}
	if ls, err := alice.List(ctx); err != nil || len(ls) != 1 {
		t.Fatalf("alice lists %v %v", ls, err)
	}
	if res, err := alice.Run(ctx, in.ID, session.RunRequest{Code: "print(1)"}); err != nil || res.Stdout != "1\n" {
		t.Fatalf("alice: %v %+v", err, res)
	}
}
