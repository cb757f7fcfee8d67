package restricted

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/sandrun/sandrun/internal/guest"
	"go.starlark.net/lib/json"
	"go.starlark.net/lib/math"
	startime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Dialect selects the Python-friendly extensions of Starlark. The zero
// value is strict Starlark; DefaultDialect turns every extension on, so that
// the snippets an agent typically writes (top-level loops, while, sets,
// reassigned globals, recursive helpers) run.
type Dialect struct {
	While           bool `json:"while"`             // while loops
	TopLevelControl bool `json:"top_level_control"` // if/for/while outside functions
	GlobalReassign  bool `json:"global_reassign"`   // x = 1; x = 2 at top level
	Set             bool `json:"set"`               // the set() built-in
	Recursion       bool `json:"recursion"`         // recursive functions (depth still capped)
}

// DefaultDialect is every extension on.
func DefaultDialect() Dialect {
	return Dialect{While: true, TopLevelControl: true, GlobalReassign: true, Set: true, Recursion: true}
}

func (d Dialect) fileOptions() *syntax.FileOptions {
	return &syntax.FileOptions{
		While: d.While, TopLevelControl: d.TopLevelControl, GlobalReassign: d.GlobalReassign,
		Set: d.Set, Recursion: d.Recursion,
	}
}

// nativeModules are the predeclared modules a program may be given, by
// name. They run inside the interpreter (no I/O: time reads the clock only
// when the wall clock is enabled, see Options.WallClock). The table is
// read-only.
var nativeModules = map[string]starlark.Value{
	"math": math.Module,
	"json": json.Module,
	"time": startime.Module,
}

// NativeModules lists the module names Options.Modules may name.
func NativeModules() []string {
	var n []string
	for k := range nativeModules {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// DefaultModules is the allowlist used when Options.Modules is nil.
func DefaultModules() []string { return []string{"json", "math", "time"} }

// Defaults for the fields of Options.
const (
	DefaultStepsPerCPUSecond = 25_000_000
	DefaultMaxCallDepth      = 5000
	DefaultWarm              = 2
	DefaultMaxRunsPerWorker  = 1000
	DefaultMaxHostArgBytes   = 1 << 20
	DefaultMaxVariableBytes  = 1 << 20
	DefaultRuntimeReserve    = 96 << 20
)

// Options configure the restricted backend. The zero value is usable: every
// zero field takes its default.
type Options struct {
	// Dialect is the language level; nil means DefaultDialect().
	Dialect *Dialect
	// Modules is the allowlist of predeclared native modules (math, json,
	// time); nil means DefaultModules(), an empty non-nil slice none.
	Modules []string
	// WallClock lets time.now() read the real clock. Off by default: the
	// program then cannot observe the time (time.now() fails with a clear
	// error), so a run is a function of its code and inputs.
	WallClock bool
	// Predeclared are the host-provided values and functions every program
	// sees as globals (the host API). Data values (None, bool, int, float,
	// string, bytes, list, tuple, dict, set) are copied into the
	// interpreter; *starlark.Builtin functions, directly or as members of a
	// *starlarkstruct.Module, stay in this process and are called through
	// the worker protocol (see doc.go). Anything else is refused by New.
	Predeclared starlark.StringDict
	// StepsPerCPUSecond turns the request's CPU limit into the
	// interpreter's step budget (steps = CPU seconds x this). 0 means
	// DefaultStepsPerCPUSecond.
	StepsPerCPUSecond uint64
	// MaxCallDepth caps the Starlark call stack; 0 means
	// DefaultMaxCallDepth.
	MaxCallDepth int
	// MaxHostArgBytes caps the encoded arguments of one host call and its
	// result; 0 means DefaultMaxHostArgBytes.
	MaxHostArgBytes int
	// MaxVariableBytes caps the encoded Result.Variables; 0 means
	// DefaultMaxVariableBytes. Values past the cap are shown as a note.
	MaxVariableBytes int

	// InProcess runs the interpreter in the caller's process instead of a
	// worker. It is faster and lets host values be anything, but the memory
	// limit does not hold (go.starlark.net has no allocation limit): every
	// result then lists the downgrade. Steps, depth, wall time and output
	// caps still hold. New freezes the Predeclared values, which
	// concurrent runs then share read-only.
	InProcess bool
	// Executable is the binary re-executed as the worker ("__child
	// starlark"); empty means os.Executable(). Tests pass the test binary.
	Executable string
	// Warm is how many idle workers are kept for reuse; 0 means
	// DefaultWarm, a negative value none (every run starts a worker).
	Warm int
	// Prestart starts the warm workers in New (for servers); otherwise the
	// first run starts one and the pool fills as runs use it.
	Prestart bool
	// MaxWorkers caps the runs in flight (each in its own worker, each up
	// to its memory limit); further runs wait for a slot. 0 means
	// 4 x GOMAXPROCS.
	MaxWorkers int
	// MaxRunsPerWorker retires a worker after this many runs; 0 means
	// DefaultMaxRunsPerWorker.
	MaxRunsPerWorker int
	// RuntimeReserve is added to the memory limit for the worker's own Go
	// runtime (its data segment at rest is about 40 MiB); 0 means
	// DefaultRuntimeReserve.
	RuntimeReserve int64
	// StartTimeout bounds a worker's start; 0 means 10s.
	StartTimeout time.Duration
	Logger       *slog.Logger

	// Python runs restricted python (--lang python): real CPython under
	// internal/pypolicy's language policy, inside this guest runner (the
	// jail, wired by cmd/sandrun). nil: python requests fail, naming what
	// is missing. Predeclared, Modules (those in the import allowlist),
	// MaxHostArgBytes and MaxVariableBytes apply to it as to Starlark.
	Python guest.Runner
	// PythonStepsPerCPUSecond turns the CPU limit into restricted
	// python's step budget; 0 means DefaultPythonStepsPerCPUSecond.
	PythonStepsPerCPUSecond uint64
}

// withDefaults fills the zero fields and checks the rest. Errors name the
// field.
func (o Options) withDefaults() (Options, error) {
	if o.Dialect == nil {
		d := DefaultDialect()
		o.Dialect = &d
	}
	if o.Modules == nil {
		o.Modules = DefaultModules()
	}
	for _, m := range o.Modules {
		if _, ok := nativeModules[m]; !ok {
			return o, fmt.Errorf("restricted: Options.Modules: unknown module %q (have %s)", m, strings.Join(NativeModules(), ", "))
		}
	}
	if o.StepsPerCPUSecond == 0 {
		o.StepsPerCPUSecond = DefaultStepsPerCPUSecond
	}
	if o.PythonStepsPerCPUSecond == 0 {
		o.PythonStepsPerCPUSecond = DefaultPythonStepsPerCPUSecond
	}
	if o.MaxCallDepth <= 0 {
		o.MaxCallDepth = DefaultMaxCallDepth
	}
	if o.MaxHostArgBytes <= 0 {
		o.MaxHostArgBytes = DefaultMaxHostArgBytes
	}
	if o.MaxVariableBytes <= 0 {
		o.MaxVariableBytes = DefaultMaxVariableBytes
	}
	if o.Warm == 0 {
		o.Warm = DefaultWarm
	}
	if o.Warm < 0 {
		o.Warm = 0
	}
	if o.MaxWorkers <= 0 {
		o.MaxWorkers = 4 * runtime.GOMAXPROCS(0)
	}
	if o.MaxRunsPerWorker <= 0 {
		o.MaxRunsPerWorker = DefaultMaxRunsPerWorker
	}
	if o.RuntimeReserve <= 0 {
		o.RuntimeReserve = DefaultRuntimeReserve
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Executable == "" && !o.InProcess {
		exe, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("restricted: Options.Executable: cannot find the sandrun binary: %w", err)
		}
		o.Executable = exe
	}
	for name := range o.Predeclared {
		if !syntaxIdent(name) {
			return o, fmt.Errorf("restricted: Options.Predeclared: %q is not a valid identifier", name)
		}
		if _, ok := nativeModules[name]; ok && contains(o.Modules, name) {
			return o, fmt.Errorf("restricted: Options.Predeclared: %q clashes with the allowlisted module of that name", name)
		}
	}
	return o, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func syntaxIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}
