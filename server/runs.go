package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/httpapi"
	"github.com/sandrun/sandrun/lang"
)

// refusal is a run the server would not take: see httpapi.Refusal.
type refusal = httpapi.Refusal

// precheck applies the server's own cap on the code's size (413: it is
// about the body, not a limit). The limits a caller may ask for are capped
// by the Sandbox's Policy.
func (s *Server) precheck(req *sandrun.Request) *refusal {
	if len(req.Code) > s.opts.MaxCodeBytes {
		return &refusal{Status: http.StatusRequestEntityTooLarge, Field: "code",
			Msg: fmt.Sprintf("code: is %d bytes, over this server's %d-byte limit", len(req.Code), s.opts.MaxCodeBytes)}
	}
	return nil
}

// execute is the one path the server's transports (REST, Piston, MCP)
// take to run code: the server's code-size cap, then the Sandbox's
// pipeline, whose admission (the server's Admission) refuses while
// draining, rate-limits the caller, queues and records metrics. A
// *refusal means the run did not happen; otherwise the Result is non-nil
// and err is the Sandbox's error (bad request, rejected, unavailable,
// internal).
func (s *Server) execute(ctx context.Context, req *sandrun.Request) (*sandrun.Result, error) {
	if ref := s.precheck(req); ref != nil {
		return nil, ref
	}
	res, err := s.sb.Run(ctx, req)
	if ref := httpapi.Refused(res, err); ref != nil {
		return nil, ref
	}
	return res, err
}

// writeRunError answers a run that did not happen or was refused by the
// pipeline (httpapi.WriteRunError).
func writeRunError(w http.ResponseWriter, res *sandrun.Result, err error) {
	httpapi.WriteRunError(w, res, err)
}

func wantsStream(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(mt), "text/event-stream") {
			return true
		}
	}
	return false
}

func (s *Server) postRun(w http.ResponseWriter, r *http.Request) {
	var req sandrun.Request
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &req, false); err != nil {
		writeDecodeError(w, err)
		return
	}
	if wantsStream(r) {
		s.streamRun(w, r, &req)
		return
	}
	res, err := s.execute(r.Context(), &req)
	if err != nil {
		writeRunError(w, res, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) {
	if s.opts.Runs == nil {
		writeError(w, http.StatusNotImplemented, "",
			"this server keeps no run history: start it with the audit log enabled to read runs back")
		return
	}
	id := r.PathValue("id")
	res, err := s.opts.Runs.Get(r.Context(), id)
	switch {
	case errors.Is(err, ErrNotFound) || (err == nil && res == nil):
		writeError(w, http.StatusNotFound, "id", fmt.Sprintf("no run with id %q", id))
	case err != nil:
		s.log.Error("reading a run from the store", "run", id, "err", err)
		writeError(w, http.StatusInternalServerError, "", "the run store failed")
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

// LanguagesBody answers GET /v1/languages.
type LanguagesBody struct {
	Languages []LanguageInfo `json:"languages"`
	// Unavailable maps a known language this host cannot run to why.
	Unavailable map[string]string `json:"unavailable"`
}

// LanguageInfo is one runnable language.
type LanguageInfo struct {
	Name     string   `json:"name"`
	Version  string   `json:"version"`
	Aliases  []string `json:"aliases"`
	Backends []string `json:"backends"`
}

// aliasesOf lists a language's other names, from the catalogue.
func aliasesOf(name string) []string {
	l, _ := lang.About(name)
	return append([]string{}, l.Aliases...)
}

// languages lists what this host can run now, with the backends that can
// run each.
func (s *Server) languages(ctx context.Context) LanguagesBody {
	found, missing := s.opts.Languages.All(ctx)
	body := LanguagesBody{Languages: []LanguageInfo{}, Unavailable: map[string]string{}}
	for _, l := range found {
		bs := s.backendsFor(ctx, l.Name)
		if len(bs) == 0 {
			body.Unavailable[l.Name] = "no registered backend can run it on this host"
			continue
		}
		body.Languages = append(body.Languages, LanguageInfo{Name: l.Name, Version: l.Version, Aliases: aliasesOf(l.Name), Backends: bs})
	}
	for n, err := range missing {
		body.Unavailable[n] = err.Error()
	}
	sort.Slice(body.Languages, func(i, j int) bool { return body.Languages[i].Name < body.Languages[j].Name })
	return body
}

func (s *Server) getLanguages(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.languages(r.Context()))
}
