package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strings"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/lang"
)

// Piston v2 compatibility: POST /api/v2/execute, GET /api/v2/runtimes,
// GET /api/v2/packages and the WebSocket /api/v2/connect
// (piston_connect.go), with Piston's shapes, status codes and messages,
// so that Piston clients switch by changing the URL. The request rules
// are in piston_request.go. Differences, documented in the guide:
// "output" is stdout followed by stderr (the sanitized streams are kept
// apart), there is no compile stage for the interpreted languages sandrun
// runs, and the packages cannot be installed or removed through the API.

// pistonPrefix is where Piston's routes live. Every error answered under
// it, the server's own (401, 403, 404, 405, 413, 429...) included, has
// Piston's body {message} (pistonErrors), since that is what Piston
// clients read.
const pistonPrefix = "/api/v2/"

// PistonStage is the run (or compile) part of a Piston answer.
type PistonStage struct {
	Stdout   string  `json:"stdout"`
	Stderr   string  `json:"stderr"`
	Output   string  `json:"output"`
	Code     *int    `json:"code"`
	Signal   *string `json:"signal"`
	Message  *string `json:"message"`
	Status   *string `json:"status"`
	CPUTime  int64   `json:"cpu_time"`
	WallTime int64   `json:"wall_time"`
	Memory   int64   `json:"memory"`
}

// PistonResponse is the answer of POST /api/v2/execute.
type PistonResponse struct {
	Language string      `json:"language"`
	Version  string      `json:"version"`
	Run      PistonStage `json:"run"`
}

// PistonRuntime is one entry of GET /api/v2/runtimes.
type PistonRuntime struct {
	Language string   `json:"language"`
	Version  string   `json:"version"`
	Aliases  []string `json:"aliases"`
	Runtime  string   `json:"runtime,omitempty"`
}

// PistonPackage is one entry of GET /api/v2/packages.
type PistonPackage struct {
	Language        string `json:"language"`
	LanguageVersion string `json:"language_version"`
	Installed       bool   `json:"installed"`
}

// PistonError is Piston's error body.
type PistonError struct {
	Message string `json:"message"`
}

func pistonError(w http.ResponseWriter, code int, format string, a ...any) {
	writeJSON(w, code, PistonError{Message: fmt.Sprintf(format, a...)})
}

func (s *Server) pistonRuntimes(w http.ResponseWriter, r *http.Request) {
	out := []PistonRuntime{}
	for _, l := range s.languages(r.Context()).Languages {
		out = append(out, PistonRuntime{Language: l.Name, Version: l.Version, Aliases: l.Aliases, Runtime: runtimeOf(l.Name)})
	}
	writeJSON(w, http.StatusOK, out)
}

// pistonPackages lists a package per language this host has an
// interpreter for: installed when a backend can run it now. Languages
// without an interpreter have no version to list and are left out.
func (s *Server) pistonPackages(w http.ResponseWriter, r *http.Request) {
	found, _ := s.opts.Languages.All(r.Context())
	out := []PistonPackage{}
	for _, l := range found {
		name := runtimeOf(l.Name)
		if name == "" {
			name = l.Name
		}
		out = append(out, PistonPackage{Language: name, LanguageVersion: l.Version, Installed: len(s.backendsFor(r.Context(), l.Name)) > 0})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Language < out[j].Language })
	writeJSON(w, http.StatusOK, out)
}

// pistonBody reads a Piston request body: JSON only (Piston answers 415
// to anything else, text/plain included), at most limit bytes.
func pistonBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		return nil, &DecodeError{Status: http.StatusUnsupportedMediaType, Msg: "requests must be of type application/json"}
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, &DecodeError{Status: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf("request body is larger than the %d-byte limit", limit)}
	case err != nil:
		return nil, &DecodeError{Status: http.StatusBadRequest, Msg: "request body could not be read: " + err.Error()}
	}
	return b, nil
}

// pistonJobFor checks a Piston request (execute's body or connect's init
// message) and turns it into a Request for the runtime it names.
func (s *Server) pistonJobFor(r *http.Request, raw []byte, interactive bool) (*sandrun.Request, LanguageInfo, error) {
	pr, err := parsePiston(raw)
	if err != nil {
		return nil, LanguageInfo{}, err
	}
	l, ok := s.pistonRuntime(s.languages(r.Context()).Languages, pr.Language, pr.Version)
	if !ok {
		return nil, LanguageInfo{}, badf("%s-%s runtime is unknown", pr.Language, pr.Version)
	}
	req, err := s.pistonToRequest(pr, l, interactive)
	if req != nil {
		// A Piston request names its runtime and version (GET
		// /api/v2/runtimes lists python-data too): never another one
		// picked by the code's imports.
		req.Runtime = "plain"
	}
	return req, l, err
}

func (s *Server) pistonExecute(w http.ResponseWriter, r *http.Request) {
	raw, err := pistonBody(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		de := err.(*DecodeError)
		pistonError(w, de.Status, "%s", de.Msg)
		return
	}
	req, l, err := s.pistonJobFor(r, raw, false)
	if err != nil {
		pistonError(w, http.StatusBadRequest, "%s", err.Error())
		return
	}
	res, err := s.execute(r.Context(), req)
	var ref *refusal
	switch {
	case errors.As(err, &ref):
		if ref.RetryAfter > 0 {
			w.Header().Set("Retry-After", fmt.Sprint(ref.RetryAfter))
		}
		pistonError(w, ref.Status, "%s", ref.Msg)
		return
	case errors.Is(err, sandrun.ErrBadRequest):
		pistonError(w, http.StatusBadRequest, "%v", err)
		return
	}
	// Everything else, an internal error included, is a run Piston
	// reports with 200 and a status (XX).
	writeJSON(w, http.StatusOK, PistonResponse{Language: l.Name, Version: l.Version, Run: pistonStage(res)})
}

// pistonStage maps a Result to Piston's run object and status codes:
// RE runtime error, SG killed by a signal, TO timed out, OL stdout too
// long, EL stderr too long, XX internal error; null when the run was ok.
// As Piston's job.js, a run stopped for TO, OL or EL reports SIGKILL.
func pistonStage(res *sandrun.Result) PistonStage {
	st := PistonStage{
		Stdout:   res.Stdout,
		Stderr:   res.Stderr,
		Output:   res.Stdout + res.Stderr,
		CPUTime:  res.Usage.CPUMs,
		WallTime: res.Usage.WallMs,
		Memory:   res.Usage.MemoryPeakBytes,
	}
	str := func(s string) *string { return &s }
	if res.ExitCode >= 0 {
		code := res.ExitCode
		st.Code = &code
	}
	if res.Signal != "" {
		st.Signal = str(res.Signal)
	}
	var status string
	switch res.Status {
	case sandrun.StatusOK:
		return st
	case sandrun.StatusExitError, sandrun.StatusCompileError:
		status = "RE"
	case sandrun.StatusSignaled, sandrun.StatusMemoryLimit, sandrun.StatusFileSizeLimit:
		status = "SG"
	case sandrun.StatusTimeout, sandrun.StatusCPULimit:
		status = "TO"
	case sandrun.StatusOutputLimit:
		status = "OL"
		if res.StderrTruncated && !res.StdoutTruncated {
			status = "EL"
		}
	default: // internal_error, rejected, cancelled
		status = "XX"
	}
	if st.Signal == nil && status != "RE" && status != "XX" {
		st.Signal = str("SIGKILL")
	}
	st.Status = str(status)
	st.Message = str(res.Error)
	return st
}

// runtimeOf is the runtime Piston names for a language ("node").
func runtimeOf(name string) string {
	l, _ := lang.About(name)
	return l.Runtime
}

// pistonErrors gives the server's own error answers under /api/v2/
// (authentication, cross-origin refusal, unknown path, wrong method, body
// too large, queue full...) Piston's body {message}: they are written in
// the one error body {error, code, ...} by code that knows nothing of
// Piston, and Piston clients read message. Answers below 400 and bodies
// that already are Piston's pass through untouched.
func pistonErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, pistonPrefix) {
			next.ServeHTTP(w, r)
			return
		}
		pw := &pistonWriter{ResponseWriter: w}
		next.ServeHTTP(pw, r)
		pw.finish()
	})
}

// pistonWriter holds back an error answer's body to rewrite it.
type pistonWriter struct {
	http.ResponseWriter
	code int
	buf  *bytes.Buffer // set while holding an error body
}

func (w *pistonWriter) WriteHeader(code int) {
	if w.code != 0 {
		return
	}
	w.code = code
	if code >= 400 {
		w.buf = &bytes.Buffer{}
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *pistonWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.buf != nil {
		if w.buf.Len()+len(p) > 64<<10 { // not an error body of ours
			w.flushHeld()
			return w.ResponseWriter.Write(p)
		}
		return w.buf.Write(p)
	}
	return w.ResponseWriter.Write(p)
}

func (w *pistonWriter) Flush() {
	if w.buf == nil {
		if f, ok := w.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
	}
}

// Unwrap lets http.ResponseController (and the WebSocket upgrade) reach
// the real writer.
func (w *pistonWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *pistonWriter) flushHeld() {
	b := w.buf.Bytes()
	w.buf = nil
	w.ResponseWriter.WriteHeader(w.code)
	_, _ = w.ResponseWriter.Write(b)
}

func (w *pistonWriter) finish() {
	if w.buf == nil {
		return
	}
	var body struct {
		Error   *string `json:"error"`
		Message *string `json:"message"`
	}
	if json.Unmarshal(w.buf.Bytes(), &body) == nil && body.Error != nil && body.Message == nil {
		b, _ := json.Marshal(PistonError{Message: *body.Error})
		w.Header().Del("Content-Length")
		w.buf = bytes.NewBuffer(append(b, '\n'))
	}
	w.flushHeld()
}
