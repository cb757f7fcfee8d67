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
// Errors are {"error": "...", "code": "..."} with 400 bad_request (the
// message names the field), 404 not_found, 409 dead (the session's
// interpreter is gone: its Info says why), 413 too_large, 429
// too_many_sessions, 503 closed. Authentication, rate limits and audit
// are the server's middleware; this handler only speaks sessions.
package sessionhttp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/session"
)

// MaxBody caps a request body: code, stdin and files of one step.
const MaxBody = 48 << 20

// Options configure the handler.
type Options struct {
	// Owner names the caller of a request (for example the name of its
	// bearer token, from the server's auth middleware). Each session
	// belongs to the caller who created it: others get 404 for it and do
	// not see it listed. nil means one owner for everything (a
	// single-user server).
	Owner func(*http.Request) string
}

// Handler returns the /v1/sessions routes for m. Mount it for both
// "/v1/sessions" and "/v1/sessions/".
func Handler(m *session.Manager, opts Options) http.Handler {
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
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/sessions", func(w http.ResponseWriter, r *http.Request) {
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
		writeJSON(w, http.StatusCreated, in)
	})
	mux.HandleFunc("GET /v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		who := owner(r)
		ls := []session.Info{}
		for _, in := range m.List() {
			if in.Owner == who {
				ls = append(ls, in)
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"sessions": ls})
	})
	mux.HandleFunc("GET /v1/sessions/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, ok := mine(w, r)
		if !ok {
			return
		}
		in, err := m.Get(id)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, in)
	})
	mux.HandleFunc("POST /v1/sessions/{id}/run", func(w http.ResponseWriter, r *http.Request) {
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
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
	mux.HandleFunc("DELETE /v1/sessions/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, ok := mine(w, r)
		if !ok {
			return
		}
		in, err := m.Close(id)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, in)
	})
	return mux
}

// Error is the body of every error response.
type Error struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeJSON(w, http.StatusUnsupportedMediaType, Error{"the body must be application/json", "bad_request"})
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeJSON(w, http.StatusRequestEntityTooLarge, Error{fmt.Sprintf("the body is larger than %d bytes", MaxBody), "too_large"})
			return false
		}
		writeJSON(w, http.StatusBadRequest, Error{"malformed JSON body: " + err.Error(), "bad_request"})
		return false
	}
	if dec.More() {
		writeJSON(w, http.StatusBadRequest, Error{"the body holds more than one JSON value", "bad_request"})
		return false
	}
	return true
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
	writeJSON(w, code, Error{err.Error(), name})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
