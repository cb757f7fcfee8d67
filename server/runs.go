package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/sandrun/sandrun"
)

// refusal is a run the server would not admit or take: an HTTP status,
// a message and, for 429/503, when to retry.
type refusal struct {
	status     int
	field      string
	msg        string
	retryAfter int
	fields     []FieldError
}

func (r *refusal) Error() string { return r.msg }

func (r *refusal) write(w http.ResponseWriter) {
	if r.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(r.retryAfter))
	}
	writeJSON(w, r.status, ErrorBody{Error: r.msg, Field: r.field, Errors: r.fields})
}

// precheck applies the server's own cap on the code's size (413: it is
// about the body, not a limit). The limits a caller may ask for are capped
// by the Sandbox's Policy.
func (s *Server) precheck(req *sandrun.Request) *refusal {
	if len(req.Code) > s.opts.MaxCodeBytes {
		return &refusal{status: http.StatusRequestEntityTooLarge, field: "code",
			msg: fmt.Sprintf("code: is %d bytes, over this server's %d-byte limit", len(req.Code), s.opts.MaxCodeBytes)}
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
	if ref := busyRefusal(res, err); ref != nil {
		return nil, ref
	}
	return res, err
}

// busyRefusal turns an admission refusal into a *refusal: 429 with
// Retry-After when full or rate limited, 503 while draining, 499 when the
// caller left while queued. nil for anything else.
func busyRefusal(res *sandrun.Result, err error) *refusal {
	var busy *sandrun.BusyError
	switch {
	case errors.As(err, &busy):
		status := http.StatusTooManyRequests
		if busy.Reason == "draining" {
			status = http.StatusServiceUnavailable
		}
		return &refusal{status: status, msg: busy.Msg, retryAfter: max(1, int(math.Ceil(busy.RetryAfter.Seconds())))}
	case err != nil && res != nil && res.Status == sandrun.StatusCancelled:
		return &refusal{status: 499, msg: "the request was cancelled while queued"}
	}
	return nil
}

// runStatus maps the Sandbox's answer to an HTTP status. A program that
// failed is still a 200: the run happened and the Result says how.
func runStatus(err error) int {
	var rej *sandrun.RejectError
	var un *sandrun.UnavailableError
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, sandrun.ErrBadRequest):
		return http.StatusBadRequest
	case errors.As(err, &rej):
		return http.StatusUnprocessableEntity
	case errors.As(err, &un):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// requestErrors flattens (possibly joined) request errors.
func requestErrors(err error) []FieldError {
	var out []FieldError
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var re *sandrun.RequestError
		if errors.As(e, &re) {
			out = append(out, FieldError{Field: re.Field, Message: re.Msg})
		}
	}
	walk(err)
	return out
}

// writeRunError answers a run that did not happen or was refused by the
// Sandbox. Bad requests get the error body with every field; the other
// Sandbox errors get the Result (which has the run id and the message).
func writeRunError(w http.ResponseWriter, res *sandrun.Result, err error) {
	var ref *refusal
	if errors.As(err, &ref) {
		ref.write(w)
		return
	}
	code := runStatus(err)
	if code == http.StatusBadRequest {
		fields := requestErrors(err)
		body := ErrorBody{Error: err.Error(), Errors: fields}
		if len(fields) > 0 {
			body.Field = fields[0].Field
		}
		writeJSON(w, code, body)
		return
	}
	writeJSON(w, code, res)
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

// languageAliases mirrors sandrun.NormalizeLanguage (a test keeps them in
// step).
var languageAliases = map[string][]string{
	"python":     {"py", "python3"},
	"javascript": {"js", "node", "nodejs"},
	"bash":       {"sh"},
	"starlark":   {"star", "skylark"},
}

func aliasesOf(name string) []string {
	return append([]string{}, languageAliases[name]...)
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
