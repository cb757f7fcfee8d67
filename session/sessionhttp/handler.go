// Package sessionhttp serves sessions over HTTP (/v1/sessions...) and is
// the client the CLI's `sandrun session` subcommands use to reach a
// running `sandrun serve`.
//
// Routes (JSON in and out, snake_case as everywhere in sandrun):
//
//	POST   /v1/sessions           session.Spec       -> 201 session.Info
//	GET    /v1/sessions                              -> 200 {"sessions": [session.Info]}
//	GET    /v1/sessions/{id}                         -> 200 session.Info
//	POST   /v1/sessions/{id}/run  session.RunRequest -> 200 sandrun.Result
//	DELETE /v1/sessions/{id}                         -> 200 session.Info (final)
//
// Errors have the one error body of every sandrun route (internal/httpapi:
// {error, code, field, errors}): 400 bad_request naming the fields, 404
// not_found, 409 dead (the session's interpreter is gone: its Info says
// why), 413 too_large, 429 too_many_sessions (or the admission's
// queue_full, rate_limited...), 503 closed or draining. A step refused by
// static limits answers 422 with its Result, as a run does. A step passes
// the run pipeline (admission, sanitizer, audit) through the Manager; this
// handler only speaks HTTP.
package sessionhttp

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/httpapi"
	"github.com/sandrun/sandrun/session"
)

// MaxBody is the default cap on a request body (code, stdin and files of
// one step) when Options.MaxBody is 0. A server that mounts the routes
// applies its own --max-body to every route as well.
const MaxBody = 48 << 20

// Options configure the handler.
type Options struct {
	// Owner names the caller of a request (for example the name of its
	// bearer token, from the server's auth middleware). Each session
	// belongs to the caller who created it: others get 404 for it and do
	// not see it listed. nil means one owner for everything (a
	// single-user server).
	Owner func(*http.Request) string
	// MaxBody caps a request body; 0 means MaxBody.
	MaxBody int64
}

// Error is the body of every error response (httpapi.ErrorBody).
type Error = httpapi.ErrorBody

// ListBody answers GET /v1/sessions.
type ListBody struct {
	Sessions []session.Info `json:"sessions"`
}

// Route is one session route: a net/http ServeMux pattern and its handler.
type Route struct {
	Pattern string
	Handler http.Handler
}

// Routes returns the /v1/sessions routes for m, one per method and path,
// for a server to mount next to its own (so that its unknown-path and
// wrong-method answers cover them too).
func Routes(m *session.Manager, opts Options) []Route {
	if opts.MaxBody <= 0 {
		opts.MaxBody = MaxBody
	}
	owner := func(r *http.Request) string {
		if opts.Owner == nil {
			return ""
		}
		return opts.Owner(r)
	}
	// mine checks that the session exists and belongs to the caller,
	// answering 404 otherwise (not 403: an id is not confirmed to
	// someone who does not own it).
	mine := func(w http.ResponseWriter, r *http.Request) (string, bool) {
		id := r.PathValue("id")
		in, err := m.Get(id)
		if err == nil && in.Owner != owner(r) {
			err = fmt.Errorf("%w %q", session.ErrNotFound, id)
		}
		if err != nil {
			writeErr(w, err)
			return "", false
		}
		return id, true
	}
	decode := func(w http.ResponseWriter, r *http.Request, v any) bool {
		if err := httpapi.Decode(w, r, opts.MaxBody, v, false); err != nil {
			httpapi.WriteDecodeError(w, err)
			return false
		}
		return true
	}
	f := func(h http.HandlerFunc) http.Handler { return h }
	// onMine answers with the session do returns for the caller's own
	// session id.
	onMine := func(do func(id string) (session.Info, error)) http.Handler {
		return f(func(w http.ResponseWriter, r *http.Request) {
			id, ok := mine(w, r)
			if !ok {
				return
			}
			in, err := do(id)
			if err != nil {
				writeErr(w, err)
				return
			}
			httpapi.WriteJSON(w, http.StatusOK, in)
		})
	}
	return []Route{
		{"POST /v1/sessions", f(func(w http.ResponseWriter, r *http.Request) {
			var sp session.Spec
			if !decode(w, r, &sp) {
				return
			}
			sp.Owner = owner(r)
			in, err := m.Create(r.Context(), sp)
			if err != nil {
				writeErr(w, err)
				return
			}
			httpapi.WriteJSON(w, http.StatusCreated, in)
		})},
		{"GET /v1/sessions", f(func(w http.ResponseWriter, r *http.Request) {
			who := owner(r)
			ls := ListBody{Sessions: []session.Info{}}
			for _, in := range m.List() {
				if in.Owner == who {
					ls.Sessions = append(ls.Sessions, in)
				}
			}
			httpapi.WriteJSON(w, http.StatusOK, ls)
		})},
		{"GET /v1/sessions/{id}", onMine(m.Get)},
		{"POST /v1/sessions/{id}/run", f(func(w http.ResponseWriter, r *http.Request) {
			id, ok := mine(w, r)
			if !ok {
				return
			}
			var req session.RunRequest
			if !decode(w, r, &req) {
				return
			}
			res, err := m.Run(r.Context(), id, req)
			if err != nil {
				writeRunErr(w, res, err)
				return
			}
			httpapi.WriteJSON(w, http.StatusOK, res)
		})},
		{"DELETE /v1/sessions/{id}", onMine(m.Close)},
	}
}

// Handler serves Routes on a mux of its own, for mounting at
// "/v1/sessions" and "/v1/sessions/" where the routes cannot be added one
// by one. Paths it does not serve get the JSON 404/405 error body.
func Handler(m *session.Manager, opts Options) http.Handler {
	mux := http.NewServeMux()
	for _, r := range Routes(m, opts) {
		mux.Handle(r.Pattern, r.Handler)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		probe := r.Clone(r.Context())
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
			probe.Method = method
			if _, p := mux.Handler(probe); p != "/" && p != "" {
				httpapi.WriteError(w, http.StatusMethodNotAllowed, "", "", fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path))
				return
			}
		}
		httpapi.WriteError(w, http.StatusNotFound, "", "", fmt.Sprintf("no route %s %s (see /openapi.json)", r.Method, r.URL.Path))
	})
	return mux
}

// Status maps a Manager error to an HTTP status and an error code.
func Status(err error) (int, string) {
	switch {
	case errors.Is(err, sandrun.ErrBadRequest):
		return http.StatusBadRequest, "bad_request"
	case errors.Is(err, session.ErrNotFound):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, session.ErrDead):
		return http.StatusConflict, "dead"
	case errors.Is(err, session.ErrTooMany):
		return http.StatusTooManyRequests, "too_many_sessions"
	case errors.Is(err, session.ErrClosed):
		return http.StatusServiceUnavailable, "closed"
	}
	return http.StatusInternalServerError, "internal_error"
}

func writeErr(w http.ResponseWriter, err error) {
	code, name := Status(err)
	if code == http.StatusBadRequest {
		httpapi.WriteBadRequest(w, err)
		return
	}
	httpapi.WriteError(w, code, name, "", err.Error())
}

// writeRunErr answers a step that did not run as asked: the session's own
// errors first, then the pipeline's (as for a one-shot run).
func writeRunErr(w http.ResponseWriter, res *sandrun.Result, err error) {
	if code, _ := Status(err); code != http.StatusInternalServerError && code != http.StatusBadRequest {
		writeErr(w, err)
		return
	}
	httpapi.WriteRunError(w, res, err)
}
