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
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	// Warm is how a long-lived server keeps this language's start off a
	// run's path (WarmFork, WarmPrestart, or WarmNone); from Info.
	Warm Warm `json:"warm,omitempty"`
	// Of is the language this is a runtime of (Info.Of), "" for a
	// language's own runtime; from Info.
	Of string `json:"of,omitempty"`
	// Modules are the runtime's modules beyond the standard library
	// (Info.Modules) with the version of the package that provides each
	// ("" when it has no metadata), as the interpreter reported them.
	Modules map[string]string `json:"modules,omitempty"`
}

// Warm names a warm path: how a long-lived server (serve, mcp) runs a
// language without paying the interpreter's start on every run.
type Warm string

const (
	// WarmNone: every run starts its interpreter.
	WarmNone Warm = ""
	// WarmFork: the interpreter can fork safely after its start (one
	// thread, no runtime state tied to its pid); the jail keeps a zygote
	// of it and forks each run a child (backend/jail, "warm path"). The
	// zygote program is CPython's (backend/jail/zygote.py).
	WarmFork Warm = "fork"
	// WarmPrestart: the runtime cannot fork safely (V8's threads, Go's
	// runtime); one-use interpreters are started ahead of time (pool/).
	WarmPrestart Warm = "prestart"
)

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
	// Probe runs the interpreter and returns what it says of itself. Its
	// answer is kept in memory only (a spec with captured state, such as
	// starlark's, which is the sandrun binary itself).
	Probe func(ctx context.Context, exe string) (*Language, error)
	// Facts and Build are the cacheable form (the built-in specs): the
	// probe returns raw facts (what the interpreter says of itself),
	// which the disk cache keeps; Build turns facts into the Language on
	// every load, so a change in sandrun's code (argv, paths) applies at
	// once and no sandrun binary invalidates another's entries.
	Facts Facts
	Build func(exe string, facts map[string]string) (*Language, error)
	// DependsOn lists files (beyond the candidate itself) whose change
	// may change the probe's answer, such as the version file a shim
	// reads; they are part of the discovery cache's key.
	DependsOn func(candidate string) []string
}

// Facts is a probe that returns raw answers; Key names what it asks (its
// arguments) and is part of the cache key, so changing the probe's text
// invalidates the entries it made.
type Facts struct {
	Key   string
	Probe func(ctx context.Context, exe string) (map[string]string, error)
}

func (s *Spec) cacheable() bool { return s.Facts.Probe != nil && s.Build != nil }

// Errors a Lookup wraps, so callers can tell why a language is missing.
var (
	// ErrUnknown: the registry has no such language.
	ErrUnknown = errors.New("unknown language")
	// ErrNotInstalled: no candidate executable exists on this host.
	ErrNotInstalled = errors.New("no interpreter found")
	// ErrProbeFailed: an interpreter exists but did not say what it is
	// (it failed or did not answer in time). This is a fault of the host
	// to fix, not an absent language: callers must not quietly route
	// around it (sandrun's auto does not pick a weaker tier for it).
	ErrProbeFailed = errors.New("the interpreter's probe failed")
)

// ProbeError is a failed or timed-out probe. It is never cached on disk;
// the registry returns it until RetryAt, then probes again.
type ProbeError struct {
	Language string
	Exe      string
	Err      error
	TimedOut bool
	Timeout  time.Duration
	RetryAt  time.Time
}

func (e *ProbeError) Error() string {
	what := e.Err.Error()
	if e.TimedOut {
		what = fmt.Sprintf("no answer within %v", e.Timeout)
	}
	return fmt.Sprintf("%s: %s is installed but its probe failed (%s); check that `%s` runs, or put the real interpreter's directory first on PATH (a version manager's shim can be slow or misconfigured); retried after %s",
		e.Language, e.Exe, what, e.Exe+" --version", e.RetryAt.Format(time.TimeOnly))
}

func (e *ProbeError) Unwrap() []error { return []error{ErrProbeFailed, e.Err} }

// Registry discovers languages and caches the answers: in memory and
// (Options.CacheDir) on disk, each answer revalidated on every Lookup by a
// few stats. It is safe for concurrent use.
type Registry struct {
	specs        map[string]Spec
	search       string // PATH used for lookup
	cache        *diskCache
	probeEnv     []string
	probeTimeout time.Duration
	retryAfter   time.Duration

	mu      sync.Mutex
	entries map[string]*entry
}

// entry is one language's state; its mutex is held while probing, so
// concurrent lookups of one language share a probe and other languages
// are not held up.
type entry struct {
	mu       sync.Mutex
	lang     *Language
	key      *cacheKey
	interp   fileID
	fail     *ProbeError
	failKey  *cacheKey
	probed   int // probes run (tests)
	diskHits int // answers taken from the disk cache (tests)
}

// Options for a Registry.
type Options struct {
	// SearchPath is the PATH used to find interpreters; empty means the
	// supervisor's PATH plus the usual system directories.
	SearchPath string
	// Extra adds or overrides language specs (starlark is added by the
	// restricted backend's package).
	Extra []Spec
	// CacheDir holds the discovery cache; empty means /var/cache/sandrun
	// for root, else $XDG_CACHE_HOME/sandrun (~/.cache/sandrun). NoCache
	// keeps answers in memory only.
	CacheDir string
	NoCache  bool
	// ProbeTimeout bounds one probe (default 10s); RetryAfter is how long
	// a failed probe's error is returned before the next Lookup probes
	// again (default 30s).
	ProbeTimeout, RetryAfter time.Duration
}

// NewRegistry returns a registry with python (and its data runtime),
// javascript and bash.
func NewRegistry(opts Options) *Registry {
	r := &Registry{specs: map[string]Spec{}, entries: map[string]*entry{}}
	for _, s := range []Spec{pythonSpec(), pythonDataSpec(), javascriptSpec(), bashSpec()} {
		r.specs[s.Name] = s
	}
	for _, s := range opts.Extra {
		r.specs[s.Name] = s
	}
	r.search = opts.SearchPath
	if r.search == "" {
		r.search = os.Getenv("PATH") + ":/usr/local/bin:/usr/bin:/bin"
	}
	r.probeTimeout, r.retryAfter = opts.ProbeTimeout, opts.RetryAfter
	if r.probeTimeout <= 0 {
		r.probeTimeout = 10 * time.Second
	}
	if r.retryAfter <= 0 {
		r.retryAfter = 30 * time.Second
	}
	r.probeEnv = probeEnv()
	if !opts.NoCache {
		dir := opts.CacheDir
		if dir == "" {
			dir = defaultCacheDir()
		}
		if dir != "" {
			r.cache = &diskCache{dir: dir}
		}
	}
	return r
}

// Names lists the registered language names, sorted.
func (r *Registry) Names() []string { return slices.Sorted(maps.Keys(r.specs)) }

func warmOf(name string) Warm {
	info, _ := About(name)
	return info.Warm
}

// WithWarm lists the registered languages whose warm path is w, sorted,
// without discovering them.
func (r *Registry) WithWarm(w Warm) []string {
	var n []string
	for _, name := range r.Names() {
		if info, _ := About(name); info.Warm == w {
			n = append(n, name)
		}
	}
	return n
}

func (r *Registry) entry(name string) *entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[name]
	if e == nil {
		e = &entry{}
		r.entries[name] = e
	}
	return e
}

// Lookup returns the discovered language. The first call probes the
// interpreter (or takes the disk cache's answer); every call checks with
// a few stats that the answer still holds (the same candidate on PATH,
// the same files). An interpreter that is absent is looked for again on
// every call; one whose probe failed is probed again after RetryAfter.
func (r *Registry) Lookup(ctx context.Context, name string) (*Language, error) {
	spec, ok := r.specs[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknown, name)
	}
	e := r.entry(name)
	e.mu.Lock()
	defer e.mu.Unlock()
	var tried []string
	cand := ""
	for _, c := range spec.Candidates {
		if exe, err := lookPath(c, r.search); err == nil {
			cand = exe
			break
		}
		tried = append(tried, c)
	}
	if cand == "" {
		return nil, fmt.Errorf("%s: %w (looked for %s in %s)", spec.Name, ErrNotInstalled, strings.Join(tried, ", "), r.search)
	}
	key := r.keyFor(spec, cand)
	if e.lang != nil && e.key.equal(key) && identify(e.lang.Interpreter) == e.interp {
		return e.lang, nil
	}
	if e.fail != nil && e.failKey.equal(key) && time.Now().Before(e.fail.RetryAt) {
		return nil, e.fail
	}
	if r.cache != nil && spec.cacheable() {
		if facts, interp, ok := r.cache.load(name, key); ok {
			// Build again from the stored facts; the entry holds only
			// while the interpreter and the runtime paths are those the
			// probe found.
			if l, err := r.build(spec, cand, facts); err == nil && identify(l.Interpreter) == interp && pathsExist(l.Paths) {
				e.lang, e.key, e.interp, e.fail = l, key, interp, nil
				e.diskHits++
				return l, nil
			}
		}
	}
	e.probed++
	l, facts, err := r.probe(ctx, spec, cand)
	if err != nil {
		e.lang = nil
		var miss *missingError
		if errors.As(err.Err, &miss) {
			// The interpreter runs but lacks the runtime's modules: not
			// installed, looked for again on the next call (as an absent
			// interpreter is), never a broken probe.
			return nil, miss
		}
		e.fail, e.failKey = err, key
		return nil, err
	}
	e.lang, e.key, e.interp, e.fail = l, key, identify(l.Interpreter), nil
	if r.cache != nil && facts != nil {
		// A cache that cannot be written costs the next process a probe.
		_ = r.cache.store(name, key, facts, e.interp)
	}
	return l, nil
}

// keyFor is what the probe's answer for cand depends on.
func (r *Registry) keyFor(spec Spec, cand string) *cacheKey {
	k := &cacheKey{Search: r.search, Env: r.probeEnv, Probe: spec.Facts.Key, Candidate: cand, Files: []fileID{identify(cand)}}
	if spec.DependsOn != nil {
		for _, p := range spec.DependsOn(cand) {
			k.Files = append(k.Files, identify(p))
		}
	}
	return k
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

// probe asks the interpreter what it is, within the probe timeout; facts
// are what a cacheable spec's probe said (nil otherwise).
func (r *Registry) probe(ctx context.Context, spec Spec, exe string) (*Language, map[string]string, *ProbeError) {
	pctx, cancel := context.WithTimeout(ctx, r.probeTimeout)
	defer cancel()
	var (
		l     *Language
		facts map[string]string
		err   error
	)
	if spec.cacheable() {
		if facts, err = spec.Facts.Probe(pctx, exe); err == nil {
			l, err = r.build(spec, exe, facts)
		}
	} else if spec.Probe != nil {
		if l, err = spec.Probe(pctx, exe); err == nil {
			l, err = r.finish(spec, l)
		}
	} else {
		err = errors.New("the language spec has no probe")
	}
	if err != nil {
		return nil, nil, &ProbeError{
			Language: spec.Name, Exe: exe, Err: err,
			TimedOut: pctx.Err() == context.DeadlineExceeded && ctx.Err() == nil, Timeout: r.probeTimeout,
			RetryAt: time.Now().Add(r.retryAfter),
		}
	}
	return l, facts, nil
}

// build makes a cacheable spec's Language from its facts.
func (r *Registry) build(spec Spec, exe string, facts map[string]string) (*Language, error) {
	l, err := spec.Build(exe, facts)
	if err != nil {
		return nil, err
	}
	return r.finish(spec, l)
}

// finish fills what every language gets: its name, file name and the
// system paths.
func (r *Registry) finish(spec Spec, l *Language) (*Language, error) {
	if l == nil || l.Interpreter == "" {
		return nil, errors.New("the probe reported no interpreter")
	}
	l.Name = spec.Name
	l.Warm = warmOf(spec.Name)
	if b := Base(spec.Name); b != spec.Name {
		l.Of = b
	}
	if l.FileName == "" {
		l.FileName = spec.FileName
	}
	l.Paths = normalizePaths(append(l.Paths, systemPaths(l.Interpreter)...))
	return l, nil
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

// probeEnv is the probes' whole environment: minimal, so that the answer
// does not depend on the supervisor's variables (pyenv's shim still needs
// PATH and HOME). It is part of the discovery cache's key.
func probeEnv() []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "LANG=C.UTF-8"}
	if pr := os.Getenv("PYENV_ROOT"); pr != "" {
		env = append(env, "PYENV_ROOT="+pr)
	}
	return env
}

// probeJSON runs exe with args and decodes its stdout as JSON into v. It
// runs in / with probeEnv, so the answer is the same wherever sandrun
// starts (a version manager's per-directory file does not apply).
func probeJSON(ctx context.Context, exe string, args []string, v any) error {
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env, cmd.Dir = probeEnv(), "/"
	// A timed-out shim's whole process group goes (pyenv's bash chain),
	// and none of it may hold the pipes open past the timeout.
	ownGroup(cmd)
	cmd.WaitDelay = time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(errb.String()))
	}
	if err := json.Unmarshal(out.Bytes(), v); err != nil {
		return fmt.Errorf("unexpected probe output %q: %w", out.String(), err)
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
