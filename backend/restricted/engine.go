package restricted

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sandrun/sandrun"
	startime "go.starlark.net/lib/time"
	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// runSpec is one run, independent of where it executes: in a worker, in
// process, or as a file under an OS tier. It crosses the worker protocol as
// JSON.
type runSpec struct {
	Code      string   `json:"code"`
	FileName  string   `json:"file_name"`
	Dialect   Dialect  `json:"dialect"`
	Modules   []string `json:"modules"`
	WallClock bool     `json:"wall_clock,omitempty"`
	// MaxSteps is the step budget (0: none); CPU is the limit it was
	// derived from, for the message.
	MaxSteps uint64        `json:"max_steps"`
	CPU      time.Duration `json:"cpu"`
	MaxDepth int           `json:"max_depth"`
	// Wall is the wall-clock limit (0: none), enforced by cancelling the
	// thread; the parent kills the worker shortly after as a backstop.
	Wall time.Duration `json:"wall"`
	// Output caps what print may write; past it the run stops.
	Output int64 `json:"output"`
	// Memory is the limit the worker's garbage collector aims under
	// (debug.SetMemoryLimit); the hard bound is the worker's RLIMIT_DATA.
	Memory int64 `json:"memory"`
	// MaxVariableBytes caps the variables report; 0 means none is made.
	MaxVariableBytes int `json:"max_variable_bytes"`
}

// outcome is how a run ended, as decided by the interpreter itself.
type outcome struct {
	Status sandrun.Status `json:"status"`
	// Error is the human message for Result.Error.
	Error string `json:"error,omitempty"`
	// Stderr is the error report with positions (file:line:col).
	Stderr    string          `json:"stderr,omitempty"`
	Variables json.RawMessage `json:"variables,omitempty"`
	Steps     uint64          `json:"steps"`
}

// sink receives what print writes, one line at a time (s without its
// newline: a huge print is not copied to add one). write returns false
// once the output cap has been passed; the run then stops.
type sink interface {
	writeLine(s string) bool
}

// depthCheckEvery is how often (in steps) the call depth is checked. A
// call costs several steps, so the stack can pass MaxDepth by at most a
// few hundred frames before the check sees it.
const depthCheckEvery = 1024

// maxStderr caps the error report (a traceback of a deep recursion is
// long).
const maxStderr = 16 << 10

// execute compiles and runs spec.Code with the given globals. It never
// panics: a panic inside the interpreter is reported as internal_error.
func execute(ctx context.Context, spec *runSpec, predeclared starlark.StringDict, out sink) (oc outcome) {
	defer func() {
		if r := recover(); r != nil {
			oc = outcome{Status: sandrun.StatusInternalError,
				Error:  fmt.Sprintf("the Starlark interpreter failed: %v", r),
				Stderr: fmt.Sprintf("internal error: %v\n%s", r, debug.Stack())}
			oc.Stderr = clip(oc.Stderr, maxStderr)
		}
	}()
	name := spec.FileName
	if name == "" {
		name = "main.star"
	}
	prog, cerr := compile(spec, name, predeclared)
	if cerr != "" {
		return outcome{Status: sandrun.StatusCompileError, Error: "the code could not be compiled: " + firstLine(cerr), Stderr: clip(cerr, maxStderr)}
	}

	thread := &starlark.Thread{Name: "main"}
	var (
		overflow atomic.Bool
		depthHit atomic.Bool
		stepsHit atomic.Bool
		timedOut atomic.Bool
		stopped  atomic.Bool
	)
	thread.Print = func(t *starlark.Thread, msg string) {
		if !out.writeLine(msg) {
			overflow.Store(true)
			t.Cancel("output limit")
		}
	}
	thread.Load = func(*starlark.Thread, string) (starlark.StringDict, error) {
		return nil, errors.New("load() is not supported in the restricted tier")
	}
	if !spec.WallClock {
		startime.SetNow(thread, func() (time.Time, error) {
			return time.Time{}, errors.New("time.now() is disabled: the restricted tier gives programs no wall clock unless the host enables it")
		})
	}
	thread.SetLocal(contextKey, ctx)
	maxSteps := spec.MaxSteps
	if maxSteps == 0 {
		maxSteps = ^uint64(0)
	}
	next := func(from uint64) uint64 {
		if maxSteps-from <= depthCheckEvery {
			return maxSteps
		}
		return from + depthCheckEvery
	}
	thread.SetMaxExecutionSteps(next(0))
	thread.OnMaxSteps = func(t *starlark.Thread) {
		switch {
		case t.Steps >= maxSteps:
			stepsHit.Store(true)
			t.Cancel("step limit")
		case spec.MaxDepth > 0 && t.CallStackDepth() > spec.MaxDepth:
			depthHit.Store(true)
			t.Cancel("call depth limit")
		default:
			t.SetMaxExecutionSteps(next(t.Steps))
		}
	}
	if spec.Wall > 0 {
		tm := time.AfterFunc(spec.Wall, func() { timedOut.Store(true); thread.Cancel("wall-clock limit") })
		defer tm.Stop()
	}
	defer context.AfterFunc(ctx, func() { stopped.Store(true); thread.Cancel("cancelled") })()

	globals, err := prog.Init(thread, predeclared)
	oc.Steps = thread.Steps
	if spec.MaxVariableBytes > 0 {
		globals.Freeze()
		oc.Variables = encodeVariables(globals, spec.MaxVariableBytes)
	}
	if err == nil {
		oc.Status = sandrun.StatusOK
		return oc
	}
	trace := err.Error()
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		trace = ee.Backtrace()
	}
	oc.Stderr = clip(trace, maxStderr) + "\n"
	switch {
	case overflow.Load():
		oc.Status = sandrun.StatusOutputLimit
		oc.Error = fmt.Sprintf("the program printed more than %s and was stopped", sandrun.Bytes(spec.Output))
	case timedOut.Load():
		oc.Status = sandrun.StatusTimeout
		oc.Error = fmt.Sprintf("the program ran longer than its wall-clock limit of %s and was stopped", spec.Wall)
	case stopped.Load():
		oc.Status = sandrun.StatusTimeout
		oc.Error = "the run was cancelled by the caller and the program was stopped"
	case stepsHit.Load():
		oc.Status = sandrun.StatusCPULimit
		oc.Error = fmt.Sprintf("the program executed more than %d steps (its CPU-time limit of %s) and was stopped", spec.MaxSteps, spec.CPU)
	case depthHit.Load():
		oc.Status = sandrun.StatusExitError
		oc.Error = fmt.Sprintf("the program nested calls deeper than %d (deep or infinite recursion) and was stopped", spec.MaxDepth)
		oc.Stderr = fmt.Sprintf("Error: maximum call depth %d exceeded (deep or infinite recursion)\n", spec.MaxDepth)
	default:
		oc.Status = sandrun.StatusExitError
		oc.Error = "the program failed: " + firstLine(lastLine(trace))
	}
	return oc
}

// compile parses and resolves the code. It returns the error report
// (positions, and a hint for Python constructs Starlark lacks) or "".
func compile(spec *runSpec, name string, predeclared starlark.StringDict) (*starlark.Program, string) {
	f, err := spec.Dialect.fileOptions().Parse(name, spec.Code, 0)
	if err != nil {
		var se syntax.Error
		if errors.As(err, &se) {
			return nil, explain(spec.Code, se.Pos, se.Error())
		}
		return nil, err.Error() + "\n"
	}
	for _, st := range f.Stmts {
		if ld, ok := st.(*syntax.LoadStmt); ok {
			pos, _ := ld.Span()
			return nil, fmt.Sprintf("%s: load() is not supported in the restricted tier: the allowlisted modules (%s) are predeclared, use them by name\n", pos, strings.Join(spec.Modules, ", "))
		}
	}
	has := func(s string) bool { _, ok := predeclared[s]; return ok }
	prog, err := starlark.FileProgram(f, has)
	if err != nil {
		var el resolve.ErrorList
		if errors.As(err, &el) {
			var b strings.Builder
			for i, e := range el {
				if i == 20 {
					fmt.Fprintf(&b, "... and %d more errors\n", len(el)-i)
					break
				}
				b.WriteString(explain(spec.Code, e.Pos, e.Error()))
			}
			return nil, b.String()
		}
		return nil, err.Error() + "\n"
	}
	return prog, ""
}

// contextKey is the thread-local under which the run's context is kept.
const contextKey = "sandrun.context"

// RunContext returns the context of the run a host function was called
// from (the caller's context in process, the run's context for a proxied
// call), or context.Background() if there is none. Host functions that
// block should honour it.
func RunContext(thread *starlark.Thread) context.Context {
	if ctx, ok := thread.Local(contextKey).(context.Context); ok && ctx != nil {
		return ctx
	}
	return context.Background()
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "\n[... error report truncated]"
}
