package sandrun

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/sandrun/sandrun/internal/display"
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
	// Runtime picks the language's runtime (lang.RuntimeFor): "" or
	// "auto" by the modules the code imports (python code that imports
	// pandas runs on python-data), "plain" for the language's own, or a
	// runtime by name ("data"). A Language that names a runtime
	// (python-data) is that runtime.
	Runtime string `json:"runtime,omitempty"`
	// FigureFormats are the formats figures come back in
	// (Result.Display), on runtimes that display them: "png" (the
	// default) and "svg".
	FigureFormats []string `json:"figure_formats,omitempty"`

	// OnOutput, when set, receives raw output chunks as the program writes
	// them ("stdout" or "stderr"), for streaming. Wrap it with the sanitizer's
	// streaming filter before showing the chunks to anyone. It must not block
	// for long: the program's output pipe waits on it.
	OnOutput func(stream string, chunk []byte) `json:"-"`
	// Input, when set, makes the run interactive (interactive.go): after
	// Stdin, the program reads what Input yields as it comes, until Input
	// ends (end of file) or the run ends. The caller ends Input once Run
	// returns: a backend's copy may still be waiting on it.
	Input io.Reader `json:"-"`
	// Signals, when set, are delivered to the program while it runs.
	Signals <-chan os.Signal `json:"-"`
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

// Checked validates f's name (ValidateFileName) and returns its decoded
// content, errors naming the file: what every writer of request files
// checks again before it writes, so that it is safe on its own.
func (f InputFile) Checked() ([]byte, error) {
	if err := ValidateFileName(f.Name); err != nil {
		return nil, fmt.Errorf("file %q: %w", f.Name, err)
	}
	b, err := f.Bytes()
	if err != nil {
		return nil, fmt.Errorf("file %q: %w", f.Name, err)
	}
	return b, nil
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
		} else if !utf8.ValidString(a) {
			bad(fmt.Sprintf("args[%d]", i), "is not valid UTF-8")
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
		case !utf8.ValidString(v):
			bad("env."+k, "is not valid UTF-8")
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
	for i, f := range r.FigureFormats {
		if _, ok := display.Formats[f]; !ok {
			bad(fmt.Sprintf("figure_formats[%d]", i), "%q is not a figure format (have: png, svg)", f)
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
	// Limits are checked where they are resolved (Policy.Resolve), against
	// the caps of the Sandbox that runs the request.
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
	case strings.HasSuffix(name, "/"):
		return fmt.Errorf("%q ends with a slash, which names a directory; files only (directories are made for them)", name)
	case strings.ContainsAny(name, "\x00\\"):
		return fmt.Errorf("%q contains a NUL or backslash", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("%q is not valid UTF-8", name)
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

// checkFiles refuses file sets that cannot be written as asked: a file
// that is also another file's directory ("a" and "a/b"), a file that
// would replace the code's own file (entry, the language's file name),
// and files that with the code do not fit in limits.work_dir. It runs
// after Validate, on resolved limits.
func checkFiles(r *Request, entry string) []error {
	var errs []error
	files := map[string]int{}
	for i, f := range r.Files {
		files[path.Clean(f.Name)] = i
	}
	total := int64(len(r.Code))
	for i, f := range r.Files {
		field := fmt.Sprintf("files[%d].name", i)
		name := path.Clean(f.Name)
		if entry != "" && name == entry {
			errs = append(errs, &RequestError{Field: field, Msg: fmt.Sprintf("%q is the file the code is written to; give the file another name", f.Name)})
		}
		for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
			if j, ok := files[dir]; ok {
				errs = append(errs, &RequestError{Field: field, Msg: fmt.Sprintf("%q needs %q to be a directory, but files[%d] is a file of that name", f.Name, dir, j)})
				break
			}
		}
		total += decodedLen(f)
	}
	if w := int64(r.Limits.WorkDir); w > 0 && total > w {
		errs = append(errs, &RequestError{Field: "files", Msg: fmt.Sprintf("the files and the code take %s, more than limits.work_dir (%s)", Bytes(total), r.Limits.WorkDir)})
	}
	return errs
}

// decodedLen is the size of f's content once decoded (Validate has
// checked that it decodes).
func decodedLen(f InputFile) int64 {
	if f.Encoding != "base64" {
		return int64(len(f.Content))
	}
	n := base64.StdEncoding.DecodedLen(len(f.Content))
	return int64(n - strings.Count(f.Content[max(0, len(f.Content)-2):], "="))
}
