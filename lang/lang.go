// Package lang is the language registry: for each language sandrun runs,
// how to find its real interpreter on this host, its version, the file
// name its code is written to, its argv, and the host paths it needs
// (which the jail binds read-only).
package lang

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Language is one discovered interpreter.
type Language struct {
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	Interpreter string   `json:"interpreter"` // absolute, symlinks and shims resolved
	Prefix      string   `json:"prefix,omitempty"`
	FileName    string   `json:"file_name"` // the code's file name in the work dir
	Paths       []string `json:"paths"`     // host paths the interpreter needs, read-only
	// Argv is the command line; the token "{file}" is replaced by the code
	// file's path. Request args follow it.
	Argv []string `json:"argv"`
	// Env are variables the language needs on every run (after the
	// scrubbed base environment, before the request's allowlist).
	Env map[string]string `json:"env,omitempty"`
	// AddressSpaceLimit says whether RLIMIT_AS can be set without breaking
	// the runtime (V8 reserves gigabytes of address space up front).
	AddressSpaceLimit bool `json:"address_space_limit"`
	// OOMMarkers are stderr substrings that mean an allocation failed, for
	// tiers without a cgroup OOM counter.
	OOMMarkers []string `json:"-"`
}

// Command returns the argv for running file with args under a memory
// limit of memory bytes. Tokens: {file} is the code file's path,
// {heap_mib} the heap size in MiB for runtimes that size their own heap
// (a little under the limit, leaving room for the runtime itself).
func (l *Language) Command(file string, memory int64, args []string) []string {
	heap := memory * 3 / 4 >> 20
	if heap < 8 {
		heap = 8
	}
	rep := strings.NewReplacer("{file}", file, "{heap_mib}", fmt.Sprint(heap))
	out := make([]string, 0, len(l.Argv)+len(args))
	for _, a := range l.Argv {
		out = append(out, rep.Replace(a))
	}
	return append(out, args...)
}

// Spec says how to discover one language.
type Spec struct {
	Name       string
	Candidates []string // executable names looked up in PATH (or absolute paths), in order
	FileName   string
	// Probe runs the interpreter and returns what it says of itself.
	Probe func(ctx context.Context, exe string) (*Language, error)
	// Image is how the language runs in a Debian-based image (nil: it
	// has no image).
	Image *ImageSpec
}

// Registry discovers languages once and caches the answer. It is safe for
// concurrent use.
type Registry struct {
	specs  map[string]Spec
	search string // PATH used for lookup

	mu    sync.Mutex
	found map[string]*Language
	errs  map[string]error
}

// Options for a Registry.
type Options struct {
	// SearchPath is the PATH used to find interpreters; empty means the
	// supervisor's PATH plus the usual system directories.
	SearchPath string
	// Extra adds or overrides language specs (starlark is added by the
	// restricted backend's package).
	Extra []Spec
}

// NewRegistry returns a registry with python, javascript and bash.
func NewRegistry(opts Options) *Registry {
	r := &Registry{specs: map[string]Spec{}, found: map[string]*Language{}, errs: map[string]error{}}
	for _, s := range []Spec{pythonSpec(), javascriptSpec(), bashSpec()} {
		r.specs[s.Name] = s
	}
	for _, s := range opts.Extra {
		r.specs[s.Name] = s
	}
	r.search = opts.SearchPath
	if r.search == "" {
		r.search = os.Getenv("PATH") + ":/usr/local/bin:/usr/bin:/bin"
	}
	return r
}

// Names lists the registered language names, sorted.
func (r *Registry) Names() []string {
	var n []string
	for k := range r.specs {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// ErrUnknown is returned for a language the registry does not know.
var ErrUnknown = errors.New("unknown language")

// Lookup returns the discovered language, discovering it on first use.
func (r *Registry) Lookup(ctx context.Context, name string) (*Language, error) {
	spec, ok := r.specs[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknown, name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if l, ok := r.found[name]; ok {
		return l, nil
	}
	if err, ok := r.errs[name]; ok {
		return nil, err
	}
	l, err := r.discover(ctx, spec)
	if err != nil {
		// Cache failures too: a missing interpreter stays missing for the
		// life of the process, and re-probing on every request is slow.
		r.errs[name] = err
		return nil, err
	}
	r.found[name] = l
	return l, nil
}

// All discovers every language and returns the found ones and, per name,
// why the others are unavailable.
func (r *Registry) All(ctx context.Context) ([]*Language, map[string]error) {
	var out []*Language
	missing := map[string]error{}
	for _, n := range r.Names() {
		l, err := r.Lookup(ctx, n)
		if err != nil {
			missing[n] = err
			continue
		}
		out = append(out, l)
	}
	return out, missing
}

func (r *Registry) discover(ctx context.Context, spec Spec) (*Language, error) {
	var tried []string
	for _, c := range spec.Candidates {
		exe, err := lookPath(c, r.search)
		if err != nil {
			tried = append(tried, c)
			continue
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		l, err := spec.Probe(ctx, exe)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("%s: probing %s: %w", spec.Name, exe, err)
		}
		l.Name = spec.Name
		if l.FileName == "" {
			l.FileName = spec.FileName
		}
		l.Paths = normalizePaths(append(l.Paths, systemPaths(l.Interpreter)...))
		return l, nil
	}
	return nil, fmt.Errorf("%s: no interpreter found (looked for %s in %s)", spec.Name, strings.Join(tried, ", "), r.search)
}

func lookPath(name, search string) (string, error) {
	// An absolute candidate (starlark's interpreter is the sandrun binary
	// itself) is taken as it is.
	if filepath.IsAbs(name) {
		if fi, err := os.Stat(name); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return name, nil
		}
		return "", exec.ErrNotFound
	}
	for _, dir := range filepath.SplitList(search) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// probeJSON runs exe with args and decodes its stdout as JSON into v. The
// environment is minimal so that the answer does not depend on the
// supervisor's variables (pyenv's shim still needs PATH and HOME).
func probeJSON(ctx context.Context, exe string, args []string, v any) error {
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "LANG=C.UTF-8"}
	if pr := os.Getenv("PYENV_ROOT"); pr != "" {
		cmd.Env = append(cmd.Env, "PYENV_ROOT="+pr)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(errb.String()))
	}
	if err := json.Unmarshal(out.Bytes(), v); err != nil {
		return fmt.Errorf("unexpected probe output %q: %v", out.String(), err)
	}
	return nil
}

// systemPaths are the directories every dynamically linked interpreter on
// Debian needs: the loader and libc live under /lib*, which are symlinks
// into /usr on merged-/usr systems.
func systemPaths(exe string) []string {
	ps := []string{"/usr"}
	for _, p := range []string{"/lib", "/lib64", "/bin"} {
		if _, err := os.Lstat(p); err == nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// normalizePaths cleans, de-duplicates and drops paths covered by a parent
// already in the list.
func normalizePaths(ps []string) []string {
	seen := map[string]bool{}
	var clean []string
	for _, p := range ps {
		if p == "" {
			continue
		}
		p = filepath.Clean(p)
		if !seen[p] {
			seen[p] = true
			clean = append(clean, p)
		}
	}
	sort.Strings(clean)
	var out []string
	for _, p := range clean {
		covered := false
		for _, q := range out {
			if strings.HasPrefix(p, q+"/") {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, p)
		}
	}
	return out
}
