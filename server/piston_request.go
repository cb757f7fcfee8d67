package server

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/lang"
)

// Piston's request rules, as its api/src/api/v2.js (get_job) and job.js
// apply them; the messages are Piston's, since Piston clients show them.
//
//   - language and version are required strings; version is an npm semver
//     range ("3.11.7", "3", "3.x", "^3.10.0", ">=3.0.0", "~3.11", "*"),
//     matched with github.com/Masterminds/semver/v3, whose range syntax is
//     npm's (carets, tildes, x-ranges, hyphen ranges, ||);
//   - files is a required array; each content a string (it may be empty);
//     an encoding other than base64 or hex is utf8; at least one file must
//     be utf8, and the program is the first utf8 file (job.js runs
//     code_files[0]): a binary file may come first;
//   - every file is written to the work directory (the program under its
//     own name too), unnamed ones as file<i>.code;
//   - the limits (run_/compile_ timeout, cpu_time, memory_limit) must be
//     numbers when given, not negative, and not above the configured
//     maximum; 0 or absent means the default. -1 is the documented "no
//     limit" of the memory limits and means this server's default;
//   - stdin gets a trailing newline when it lacks one (job.js does).
//
// Unknown fields are ignored, as Piston ignores them.

// PistonRequest is the body of POST /api/v2/execute (and the init message
// of /api/v2/connect). Times are milliseconds, memory bytes.
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

// PistonFile is one file of a Piston request.
type PistonFile struct {
	Name     string `json:"name,omitempty"`
	Content  string `json:"content"`
	Encoding string `json:"encoding,omitempty"` // utf8 (default), base64 or hex
}

// pistonBad is a request Piston refuses with 400 and {message}.
type pistonBad struct{ msg string }

func (e *pistonBad) Error() string { return e.msg }

func badf(format string, a ...any) *pistonBad { return &pistonBad{fmt.Sprintf(format, a...)} }

// pistonLimitNames are the limits Piston checks, in its order.
var pistonLimitNames = []string{
	"compile_memory_limit", "run_memory_limit",
	"compile_timeout", "run_timeout",
	"compile_cpu_time", "run_cpu_time",
}

// parsePiston checks raw (one JSON object) as Piston does and decodes it.
// Type errors get Piston's messages; what Piston leaves unchecked but
// sandrun needs typed (stdin, args, a file's name) gets a message naming
// the field.
func parsePiston(raw []byte) (*PistonRequest, error) {
	var m map[string]json.RawMessage
	if err := unmarshalLoose(raw, &m); err != nil {
		return nil, err
	}
	str := func(name string) (string, bool) {
		var s string
		if v, ok := m[name]; ok && json.Unmarshal(v, &s) == nil {
			return s, true
		}
		return "", false
	}
	pr := &PistonRequest{}
	var ok bool
	if pr.Language, ok = str("language"); !ok || pr.Language == "" {
		return nil, badf("language is required as a string")
	}
	if pr.Version, ok = str("version"); !ok || pr.Version == "" {
		return nil, badf("version is required as a string")
	}
	var files []json.RawMessage
	if v, ok := m["files"]; !ok || json.Unmarshal(v, &files) != nil || files == nil {
		return nil, badf("files is required as an array")
	}
	for i, raw := range files {
		var f map[string]json.RawMessage
		_ = json.Unmarshal(raw, &f)
		var pf PistonFile
		if c, ok := f["content"]; !ok || json.Unmarshal(c, &pf.Content) != nil {
			return nil, badf("files[%d].content is required as a string", i)
		}
		if n, ok := f["name"]; ok && !isNull(n) && json.Unmarshal(n, &pf.Name) != nil {
			return nil, badf("files[%d].name must be a string", i)
		}
		if e, ok := f["encoding"]; ok {
			_ = json.Unmarshal(e, &pf.Encoding) // not a string: utf8, as Piston
		}
		pr.Files = append(pr.Files, pf)
	}
	for _, name := range pistonLimitNames {
		v, ok := m[name]
		if !ok || isNull(v) || isFalsy(v) {
			continue
		}
		var f float64
		if json.Unmarshal(v, &f) != nil {
			return nil, badf("If specified, %s must be a number", name)
		}
		if f < 0 && !(f == -1 && strings.HasSuffix(name, "memory_limit")) {
			return nil, badf("%s must be non-negative", name)
		}
		n := int64(f)
		switch name {
		case "run_timeout":
			pr.RunTimeout = n
		case "compile_timeout":
			pr.CompileTimeout = n
		case "run_cpu_time":
			pr.RunCPUTime = n
		case "compile_cpu_time":
			pr.CompileCPUTime = n
		case "run_memory_limit":
			pr.RunMemoryLimit = n
		case "compile_memory_limit":
			pr.CompileMemoryLimit = n
		}
	}
	if v, ok := m["stdin"]; ok && !isNull(v) && json.Unmarshal(v, &pr.Stdin) != nil {
		return nil, badf("stdin must be a string")
	}
	if v, ok := m["args"]; ok && !isNull(v) && json.Unmarshal(v, &pr.Args) != nil {
		return nil, badf("args must be an array of strings")
	}
	return pr, nil
}

// unmarshalLoose decodes one JSON object, UTF-8 checked as every route
// is (httpapi), but with unknown fields allowed (a map takes them all).
func unmarshalLoose(raw []byte, m *map[string]json.RawMessage) error {
	if err := unmarshalStrict(raw, m); err != nil {
		if de, ok := err.(*DecodeError); ok {
			return badf("%s", de.Error())
		}
		return badf("%v", err)
	}
	if *m == nil {
		return badf("body: want a JSON object")
	}
	return nil
}

func isNull(v json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(v), []byte("null")) }

// isFalsy: Piston skips a limit that is JavaScript-falsy (0, "", false).
func isFalsy(v json.RawMessage) bool {
	switch t := string(bytes.TrimSpace(v)); t {
	case "0", "-0", `""`, "false", "0.0":
		return true
	}
	return false
}

// pistonRuntime finds the runtime a request names: the language by name
// or alias, its version within the range.
func (s *Server) pistonRuntime(langs []LanguageInfo, language, version string) (LanguageInfo, bool) {
	name := sandrun.NormalizeLanguage(language)
	for _, l := range langs {
		if l.Name == name && versionMatches(version, l.Version) {
			return l, true
		}
	}
	return LanguageInfo{}, false
}

// versionMatches reports whether have satisfies the npm semver range
// want, as Piston's semver.satisfies. A version that is not semver
// (sandrun's own builds) matches only "*", "x" or itself.
func versionMatches(want, have string) bool {
	want = strings.TrimSpace(want)
	if want == have || want == "*" || want == "x" || want == "X" {
		return true
	}
	v, err := semver.NewVersion(have)
	if err != nil {
		return false
	}
	c, err := semver.NewConstraint(want)
	if err != nil {
		return false
	}
	return c.Check(v)
}

// pistonToRequest turns a checked Piston request into a sandrun Request
// for language l, refusing limits above the server's caps with Piston's
// message. An interactive run (connect) takes its stdin as given.
func (s *Server) pistonToRequest(pr *PistonRequest, l LanguageInfo, interactive bool) (*sandrun.Request, error) {
	req := &sandrun.Request{Language: l.Name, Stdin: pr.Stdin, Args: pr.Args}
	if !interactive && !strings.HasSuffix(req.Stdin, "\n") {
		req.Stdin += "\n"
	}
	info, _ := lang.About(l.Name)
	entry := -1
	for i, f := range pr.Files {
		enc := f.Encoding
		if enc != "base64" && enc != "hex" {
			enc = "utf8"
		}
		name := f.Name
		if name == "" {
			name = fmt.Sprintf("file%d.code", i)
		}
		var in sandrun.InputFile
		switch enc {
		case "utf8":
			in = sandrun.InputFile{Name: name, Content: f.Content}
		case "base64":
			b, err := base64.StdEncoding.DecodeString(f.Content)
			if err != nil {
				return nil, badf("files[%d].content is not valid base64", i)
			}
			in = sandrun.InputFile{Name: name, Content: base64.StdEncoding.EncodeToString(b), Encoding: "base64"}
		case "hex":
			b, err := hex.DecodeString(f.Content)
			if err != nil {
				return nil, badf("files[%d].content is not valid hex", i)
			}
			in = sandrun.InputFile{Name: name, Content: base64.StdEncoding.EncodeToString(b), Encoding: "base64"}
		}
		if enc == "utf8" && entry < 0 {
			entry = i
			req.Code = f.Content
		}
		// The program's file is written under the language's file name;
		// Piston also has it under its own name (code may read or import
		// itself by it), so keep that copy unless the names coincide.
		if name != info.FileName {
			req.Files = append(req.Files, in)
		}
	}
	if entry < 0 {
		return nil, badf("files must include at least one utf8 encoded file")
	}
	caps := s.sb.Policy().Caps
	ms := func(name string, v int64, cap sandrun.Duration) (sandrun.Duration, error) {
		if v <= 0 {
			return 0, nil
		}
		if limit := cap.D().Milliseconds(); v > limit {
			return 0, badf("%s cannot exceed the configured limit of %d", name, limit)
		}
		return sandrun.Duration(time.Duration(v) * time.Millisecond), nil
	}
	var err error
	if req.Limits.WallTime, err = ms("run_timeout", pr.RunTimeout, caps.WallTime); err != nil {
		return nil, err
	}
	if req.Limits.CPUTime, err = ms("run_cpu_time", pr.RunCPUTime, caps.CPUTime); err != nil {
		return nil, err
	}
	if pr.RunMemoryLimit > int64(caps.Memory) {
		return nil, badf("run_memory_limit cannot exceed the configured limit of %d", int64(caps.Memory))
	}
	if pr.RunMemoryLimit > 0 {
		req.Limits.Memory = sandrun.Bytes(pr.RunMemoryLimit)
	}
	// A wall-clock limit above the CPU default would be cut short by the
	// CPU limit: Piston's run_timeout is the one time a client sets, so
	// the CPU time follows it unless the client set that too.
	if req.Limits.CPUTime == 0 && req.Limits.WallTime > s.sb.Policy().Defaults.CPUTime {
		req.Limits.CPUTime = min(req.Limits.WallTime, caps.CPUTime)
	}
	return req, nil
}
