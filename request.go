package sandrun

import (
	"encoding/base64"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Request is one run: the same shape for every backend.
type Request struct {
	// Language is one of the registered languages: python, javascript,
	// bash, starlark.
	Language string `json:"language"`
	// Code is the program text. It must not be empty.
	Code string `json:"code"`
	// Files are written into the work directory before the run.
	Files []InputFile `json:"files,omitempty"`
	// Stdin is fed to the program's standard input.
	Stdin string `json:"stdin,omitempty"`
	// Args are passed to the program after the code file.
	Args []string `json:"args,omitempty"`
	// Env is the explicit environment allowlist: these variables, and only
	// these, are added to PATH, HOME and LANG. Nothing of the supervisor's
	// environment reaches the program.
	Env map[string]string `json:"env,omitempty"`
	// Limits; zero fields take the defaults (DefaultLimits()).
	Limits Limits `json:"limits"`
	// Network is the network policy: none (the zero value, the default)
	// or an allowlist reached through the supervisor's proxy (network.go).
	Network NetworkPolicy `json:"network,omitzero"`
	// Backend names the tier; "" or "auto" picks the strongest available.
	Backend string `json:"backend,omitempty"`
	// Collect lists glob patterns (path.Match syntax, relative to the work
	// directory) of files returned in Result.Files after the run.
	Collect []string `json:"collect,omitempty"`
	// NoSanitize returns raw output. Sanitization is on unless this is set.
	NoSanitize bool `json:"no_sanitize,omitempty"`

	// OnOutput, when set, receives raw output chunks as the program writes
	// them ("stdout" or "stderr"), for streaming. Wrap it with the sanitizer's
	// streaming filter before showing the chunks to anyone. It must not block
	// for long: the program's output pipe waits on it.
	OnOutput func(stream string, chunk []byte) `json:"-"`
}

// InputFile is a file placed in the work directory.
type InputFile struct {
	Name string `json:"name"`
	// Content is the file body: text, or base64 when Encoding is "base64".
	Content  string `json:"content"`
	Encoding string `json:"encoding,omitempty"` // "", "utf8" or "base64"
}

// Bytes returns the decoded file content.
func (f InputFile) Bytes() ([]byte, error) {
	switch f.Encoding {
	case "", "utf8", "utf-8", "text":
		return []byte(f.Content), nil
	case "base64":
		return base64.StdEncoding.DecodeString(f.Content)
	}
	return nil, fmt.Errorf("unknown encoding %q (want utf8 or base64)", f.Encoding)
}

// Limits bounds a run. A zero field means "use the default".
type Limits struct {
	WallTime  Duration `json:"wall_time,omitempty"`  // default 10s
	CPUTime   Duration `json:"cpu_time,omitempty"`   // default 5s
	Memory    Bytes    `json:"memory,omitempty"`     // default 256MiB
	Processes int      `json:"processes,omitempty"`  // default 64
	OpenFiles int      `json:"open_files,omitempty"` // default 256
	FileSize  Bytes    `json:"file_size,omitempty"`  // default 16MiB
	Output    Bytes    `json:"output,omitempty"`     // per stream, default 1MiB
	WorkDir   Bytes    `json:"work_dir,omitempty"`   // size of /work (and /tmp), default 64MiB
}

// DefaultLimits returns the safe defaults every zero field takes.
func DefaultLimits() Limits { return defaultLimits }

// MaxLimits returns the largest values a request may ask for; anything
// above is refused as absurd rather than silently clamped.
func MaxLimits() Limits { return maxLimits }

// defaultLimits and maxLimits are read-only tables; the functions above
// hand out copies.
var defaultLimits = Limits{
	WallTime:  Duration(10 * time.Second),
	CPUTime:   Duration(5 * time.Second),
	Memory:    256 << 20,
	Processes: 64,
	OpenFiles: 256,
	FileSize:  16 << 20,
	Output:    1 << 20,
	WorkDir:   64 << 20,
}

var maxLimits = Limits{
	WallTime:  Duration(time.Hour),
	CPUTime:   Duration(time.Hour),
	Memory:    16 << 30,
	Processes: 4096,
	OpenFiles: 65536,
	FileSize:  4 << 30,
	Output:    256 << 20,
	WorkDir:   8 << 30,
}

// Minimum sensible values: below these no interpreter can even start.
const (
	minWall   = Duration(10 * time.Millisecond)
	minCPU    = Duration(10 * time.Millisecond)
	minMemory = Bytes(4 << 20)
)

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	d := defaultLimits
	if l.WallTime == 0 {
		l.WallTime = d.WallTime
	}
	if l.CPUTime == 0 {
		l.CPUTime = d.CPUTime
	}
	if l.Memory == 0 {
		l.Memory = d.Memory
	}
	if l.Processes == 0 {
		l.Processes = d.Processes
	}
	if l.OpenFiles == 0 {
		l.OpenFiles = d.OpenFiles
	}
	if l.FileSize == 0 {
		l.FileSize = d.FileSize
	}
	if l.Output == 0 {
		l.Output = d.Output
	}
	if l.WorkDir == 0 {
		l.WorkDir = d.WorkDir
	}
	return l
}

// Validate checks every limit against its range. Zero fields are valid
// (they mean the default).
func (l Limits) Validate() error {
	var errs []error
	chk := func(field string, v, minV, maxV int64, show func(int64) string) {
		if v == 0 {
			return
		}
		if v < 0 {
			errs = append(errs, &RequestError{Field: "limits." + field, Msg: fmt.Sprintf("must not be negative (got %s)", show(v))})
		} else if v < minV {
			errs = append(errs, &RequestError{Field: "limits." + field, Msg: fmt.Sprintf("%s is below the minimum %s", show(v), show(minV))})
		} else if v > maxV {
			errs = append(errs, &RequestError{Field: "limits." + field, Msg: fmt.Sprintf("%s is above the maximum %s", show(v), show(maxV))})
		}
	}
	dur := func(v int64) string { return time.Duration(v).String() }
	byt := func(v int64) string { return Bytes(v).String() }
	num := func(v int64) string { return fmt.Sprint(v) }
	m := maxLimits
	chk("wall_time", int64(l.WallTime), int64(minWall), int64(m.WallTime), dur)
	chk("cpu_time", int64(l.CPUTime), int64(minCPU), int64(m.CPUTime), dur)
	chk("memory", int64(l.Memory), int64(minMemory), int64(m.Memory), byt)
	chk("processes", int64(l.Processes), 1, int64(m.Processes), num)
	chk("open_files", int64(l.OpenFiles), 16, int64(m.OpenFiles), num)
	chk("file_size", int64(l.FileSize), 1, int64(m.FileSize), byt)
	chk("output", int64(l.Output), 1, int64(m.Output), byt)
	chk("work_dir", int64(l.WorkDir), 1<<20, int64(m.WorkDir), byt)
	return errors.Join(errs...)
}

// RequestError is a bad request: it names the field and what is wrong.
// A request that fails validation is never run.
type RequestError struct {
	Field string
	Msg   string
}

func (e *RequestError) Error() string { return e.Field + ": " + e.Msg }

// ErrBadRequest matches every *RequestError with errors.Is.
var ErrBadRequest = errors.New("bad request")

// Is makes errors.Is(err, ErrBadRequest) true for request errors.
func (e *RequestError) Is(target error) bool { return target == ErrBadRequest }

// MaxCodeSize is the default cap on Request.Code.
const MaxCodeSize = 1 << 20

// Request-wide caps that keep a request from costing the host much before
// it even runs.
const (
	maxFiles      = 256
	maxFileBytes  = 16 << 20
	maxStdin      = 16 << 20
	maxArgs       = 1024
	maxArgBytes   = 128 << 10
	maxEnv        = 128
	maxCollect    = 64
	maxNameLength = 255
)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// reservedEnv are set by sandrun itself; a request may not override them.
var reservedEnv = map[string]bool{"PATH": true, "HOME": true}

// Validate checks the whole request: every field, with an error naming it.
// maxCode of 0 means MaxCodeSize. It does not check that the language or
// backend exists: the Sandbox does that against its registries.
func (r *Request) Validate(maxCode int) error {
	if maxCode <= 0 {
		maxCode = MaxCodeSize
	}
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, &RequestError{Field: field, Msg: fmt.Sprintf(format, a...)})
	}
	if r.Language == "" {
		bad("language", "is required")
	}
	if strings.TrimSpace(r.Code) == "" {
		bad("code", "is empty")
	} else if len(r.Code) > maxCode {
		bad("code", "is %d bytes, over the %d-byte limit", len(r.Code), maxCode)
	}
	if strings.IndexByte(r.Code, 0) >= 0 {
		bad("code", "contains a NUL byte")
	}
	if !utf8.ValidString(r.Code) {
		bad("code", "is not valid UTF-8")
	}
	if len(r.Stdin) > maxStdin {
		bad("stdin", "is %d bytes, over the %d-byte limit", len(r.Stdin), maxStdin)
	}
	if len(r.Args) > maxArgs {
		bad("args", "has %d entries, over the limit of %d", len(r.Args), maxArgs)
	}
	argBytes := 0
	for i, a := range r.Args {
		argBytes += len(a)
		if strings.IndexByte(a, 0) >= 0 {
			bad(fmt.Sprintf("args[%d]", i), "contains a NUL byte")
		}
	}
	if argBytes > maxArgBytes {
		bad("args", "total %d bytes, over the %d-byte limit", argBytes, maxArgBytes)
	}
	if len(r.Env) > maxEnv {
		bad("env", "has %d variables, over the limit of %d", len(r.Env), maxEnv)
	}
	for k, v := range r.Env {
		switch {
		case !envName.MatchString(k):
			bad("env", "variable name %q is not a valid name ([A-Za-z_][A-Za-z0-9_]*)", k)
		case reservedEnv[k]:
			bad("env."+k, "is set by the sandbox and cannot be overridden")
		case strings.IndexByte(v, 0) >= 0:
			bad("env."+k, "contains a NUL byte")
		}
	}
	if err := r.Network.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(r.Files) > maxFiles {
		bad("files", "has %d files, over the limit of %d", len(r.Files), maxFiles)
	}
	seen := map[string]bool{}
	for i, f := range r.Files {
		field := fmt.Sprintf("files[%d]", i)
		if err := ValidateFileName(f.Name); err != nil {
			bad(field+".name", "%v", err)
			continue
		}
		clean := path.Clean(f.Name)
		if seen[clean] {
			bad(field+".name", "%q appears twice", f.Name)
		}
		seen[clean] = true
		b, err := f.Bytes()
		if err != nil {
			bad(field+".content", "%v", err)
		} else if len(b) > maxFileBytes {
			bad(field+".content", "is %d bytes, over the %d-byte limit", len(b), maxFileBytes)
		}
	}
	if len(r.Collect) > maxCollect {
		bad("collect", "has %d patterns, over the limit of %d", len(r.Collect), maxCollect)
	}
	for i, g := range r.Collect {
		if g == "" || strings.HasPrefix(g, "/") || strings.Contains(g, "..") {
			bad(fmt.Sprintf("collect[%d]", i), "%q must be a relative pattern inside the work directory", g)
		} else if _, err := path.Match(g, ""); err != nil {
			bad(fmt.Sprintf("collect[%d]", i), "%q is not a valid pattern: %v", g, err)
		}
	}
	if err := r.Limits.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ValidateFileName checks a request file name: relative, inside the work
// directory, no "..", no control characters.
func ValidateFileName(name string) error {
	switch {
	case name == "":
		return errors.New("is empty")
	case len(name) > maxNameLength:
		return fmt.Errorf("is longer than %d bytes", maxNameLength)
	case strings.HasPrefix(name, "/"):
		return fmt.Errorf("%q is absolute; names are relative to the work directory", name)
	case strings.ContainsAny(name, "\x00\\"):
		return fmt.Errorf("%q contains a NUL or backslash", name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%q contains a control character", name)
		}
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return fmt.Errorf("%q leaves the work directory", name)
		}
	}
	if c := path.Clean(name); c == "." || c == "" {
		return fmt.Errorf("%q names the work directory itself", name)
	}
	return nil
}
