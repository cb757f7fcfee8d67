package server

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/lang"
)

// Piston v2 compatibility: POST /api/v2/execute and GET /api/v2/runtimes
// with Piston's shapes, so Piston clients switch by changing the URL.
// Differences, documented in the README: "output" is stdout followed by
// stderr (not interleaved: the sanitized streams are kept apart), there is
// no compile stage for the interpreted languages sandrun runs, and unknown
// JSON fields are ignored as Piston ignores them.

// PistonFile is one file of a Piston request; the first is the program.
type PistonFile struct {
	Name     string `json:"name,omitempty"`
	Content  string `json:"content"`
	Encoding string `json:"encoding,omitempty"` // utf8 (default), base64 or hex
}

// PistonRequest is the body of POST /api/v2/execute. Times are
// milliseconds, memory bytes; -1 or 0 means the server default.
type PistonRequest struct {
	Language           string       `json:"language"`
	Version            string       `json:"version"`
	Files              []PistonFile `json:"files"`
	Stdin              string       `json:"stdin,omitempty"`
	Args               []string     `json:"args,omitempty"`
	RunTimeout         int64        `json:"run_timeout,omitempty"`
	CompileTimeout     int64        `json:"compile_timeout,omitempty"`
	RunCPUTime         int64        `json:"run_cpu_time,omitempty"`
	CompileCPUTime     int64        `json:"compile_cpu_time,omitempty"`
	RunMemoryLimit     int64        `json:"run_memory_limit,omitempty"`
	CompileMemoryLimit int64        `json:"compile_memory_limit,omitempty"`
}

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

// versionMatches implements the part of Piston's semver matching that
// clients use: "*", an exact version, or a prefix of whole components
// ("3" and "3.11" match "3.11.2").
func versionMatches(want, have string) bool {
	want = strings.TrimSpace(want)
	switch {
	case want == "*" || want == "x" || want == have:
		return true
	case want == "":
		return false
	}
	return strings.HasPrefix(have, strings.TrimSuffix(strings.TrimSuffix(want, ".x"), ".*")+".")
}

func (s *Server) pistonExecute(w http.ResponseWriter, r *http.Request) {
	var pr PistonRequest
	if err := decodePiston(w, r, s.opts.MaxBodyBytes, &pr); err != nil {
		var de *DecodeError
		if errors.As(err, &de) {
			pistonError(w, de.Status, "%s", de.Error())
			return
		}
		pistonError(w, http.StatusBadRequest, "%v", err)
		return
	}
	req, lang, ok := s.pistonToRequest(w, r, &pr)
	if !ok {
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
	writeJSON(w, http.StatusOK, PistonResponse{Language: lang.Name, Version: lang.Version, Run: pistonStage(res)})
}

// decodePiston decodes leniently about unknown fields, as Piston does
// (its clients send fields sandrun has no use for), but strictly about
// syntax, types and size. piston-client posts JSON as text/plain, so that
// content type is accepted here (cross-origin posts are still refused by
// CrossOriginProtection).
func decodePiston(w http.ResponseWriter, r *http.Request, limit int64, v *PistonRequest) error {
	var raw map[string]json.RawMessage
	if err := decodeJSON(w, r, limit, &raw, true); err != nil {
		return err
	}
	known := map[string]bool{}
	for _, n := range []string{"language", "version", "files", "stdin", "args", "run_timeout", "compile_timeout",
		"run_cpu_time", "compile_cpu_time", "run_memory_limit", "compile_memory_limit"} {
		known[n] = true
	}
	for k := range raw {
		if !known[k] {
			delete(raw, k)
		}
	}
	data, err := json.Marshal(raw)
	if err != nil {
		return err
	}
	return unmarshalStrict(data, v)
}

// pistonToRequest validates the Piston request as Piston does (same
// messages) and converts it.
func (s *Server) pistonToRequest(w http.ResponseWriter, r *http.Request, pr *PistonRequest) (*sandrun.Request, LanguageInfo, bool) {
	if pr.Language == "" {
		pistonError(w, http.StatusBadRequest, "language is required as a string")
		return nil, LanguageInfo{}, false
	}
	if pr.Version == "" {
		pistonError(w, http.StatusBadRequest, "version is required as a string")
		return nil, LanguageInfo{}, false
	}
	if len(pr.Files) == 0 {
		pistonError(w, http.StatusBadRequest, "files is required as an array")
		return nil, LanguageInfo{}, false
	}
	name := sandrun.NormalizeLanguage(pr.Language)
	var lang LanguageInfo
	found := false
	for _, l := range s.languages(r.Context()).Languages {
		if l.Name == name && versionMatches(pr.Version, l.Version) {
			lang, found = l, true
		}
	}
	if !found {
		pistonError(w, http.StatusBadRequest, "%s-%s runtime is unknown", pr.Language, pr.Version)
		return nil, LanguageInfo{}, false
	}
	req := &sandrun.Request{Language: name, Stdin: pr.Stdin, Args: pr.Args}
	for i, f := range pr.Files {
		if f.Content == "" {
			pistonError(w, http.StatusBadRequest, "files[%d].content is required as a string", i)
			return nil, LanguageInfo{}, false
		}
		content, enc := f.Content, ""
		switch f.Encoding {
		case "", "utf8", "utf-8":
		case "base64":
			enc = "base64"
		case "hex":
			b, err := hex.DecodeString(f.Content)
			if err != nil {
				pistonError(w, http.StatusBadRequest, "files[%d].content is not valid hex", i)
				return nil, LanguageInfo{}, false
			}
			content, enc = base64.StdEncoding.EncodeToString(b), "base64"
		default:
			pistonError(w, http.StatusBadRequest, "files[%d].encoding must be utf8, base64 or hex", i)
			return nil, LanguageInfo{}, false
		}
		if i == 0 {
			b, err := (sandrun.InputFile{Content: content, Encoding: enc}).Bytes()
			if err != nil {
				pistonError(w, http.StatusBadRequest, "files[0].content: %v", err)
				return nil, LanguageInfo{}, false
			}
			req.Code = string(b)
			continue
		}
		fname := f.Name
		if fname == "" {
			fname = fmt.Sprintf("file%d.code", i)
		}
		req.Files = append(req.Files, sandrun.InputFile{Name: fname, Content: content, Encoding: enc})
	}
	ms := func(v int64) sandrun.Duration {
		if v <= 0 {
			return 0
		}
		return sandrun.Duration(time.Duration(v) * time.Millisecond)
	}
	req.Limits.WallTime = ms(pr.RunTimeout)
	req.Limits.CPUTime = ms(pr.RunCPUTime)
	if pr.RunMemoryLimit > 0 {
		req.Limits.Memory = sandrun.Bytes(pr.RunMemoryLimit)
	}
	return req, lang, true
}

// pistonStage maps a Result to Piston's run object and status codes:
// RE runtime error, SG killed by a signal, TO timed out, OL stdout too
// long, EL stderr too long, XX internal error; null when the run was ok.
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
		if st.Signal == nil {
			st.Signal = str("SIGKILL")
		}
	case sandrun.StatusTimeout, sandrun.StatusCPULimit:
		status = "TO"
	case sandrun.StatusOutputLimit:
		status = "OL"
		if res.StderrTruncated && !res.StdoutTruncated {
			status = "EL"
		}
	default: // internal_error, rejected
		status = "XX"
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
