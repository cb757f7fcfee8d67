// Package analyze applies static code limits before a run: it parses the
// code with a real parser for its language and refuses code whose loops,
// calls, nesting depth, statements or size exceed the configured limits.
// Parsers: tree-sitter for Python (cgo, github.com/tree-sitter/go-tree-sitter
// with the tree-sitter-python grammar); goja's ECMAScript parser for
// javascript and mvdan.cc/sh's parser for bash (the tree-sitter grammar
// modules for those two are not served by the Go module proxy here); and
// go.starlark.net/syntax for Starlark. Counting walks the syntax tree, so
// a loop keyword inside a string or a comment is not a loop.
package analyze

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/lang"
)

// Limits are the static limits; a zero field is no limit.
type Limits struct {
	MaxLoops      int `json:"max_loops,omitempty"`      // for/while/until loops and comprehension clauses
	MaxCalls      int `json:"max_calls,omitempty"`      // call sites (bash: commands)
	MaxDepth      int `json:"max_depth,omitempty"`      // nesting of compound statements and functions
	MaxStatements int `json:"max_statements,omitempty"` // statements, simple and compound
	MaxSize       int `json:"max_size,omitempty"`       // bytes of code
}

// Enabled reports whether any limit is set.
func (l Limits) Enabled() bool {
	return l.MaxLoops > 0 || l.MaxCalls > 0 || l.MaxDepth > 0 || l.MaxStatements > 0 || l.MaxSize > 0
}

// Validate rejects negative limits, naming the field.
func (l Limits) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{{"max_loops", l.MaxLoops}, {"max_calls", l.MaxCalls}, {"max_depth", l.MaxDepth}, {"max_statements", l.MaxStatements}, {"max_size", l.MaxSize}} {
		if f.v < 0 {
			errs = append(errs, &sandrun.RequestError{Field: f.name, Msg: fmt.Sprintf("must not be negative (got %d); 0 means no limit", f.v)})
		}
	}
	return errors.Join(errs...)
}

// Metrics is what a parse counted.
type Metrics struct {
	Loops      int `json:"loops"`
	Calls      int `json:"calls"`
	Depth      int `json:"depth"`
	Statements int `json:"statements"`
	Size       int `json:"size"`
}

// Analyzer implements sandrun.Analyzer. It is safe for concurrent use
// (each call builds its own parser).
type Analyzer struct{ lim Limits }

var _ sandrun.Analyzer = (*Analyzer)(nil)

// New returns an Analyzer for lim.
func New(lim Limits) (*Analyzer, error) {
	if err := lim.Validate(); err != nil {
		return nil, err
	}
	return &Analyzer{lim: lim}, nil
}

// Analyze returns a *sandrun.RejectError naming every exceeded limit with
// its value, or when the code cannot be parsed for counting (fail closed:
// code that cannot be measured is not run while limits are on).
func (a *Analyzer) Analyze(language, code string) error {
	if a.lim.MaxSize > 0 && len(code) > a.lim.MaxSize {
		// Checked before parsing: the size limit also protects the parser.
		return &sandrun.RejectError{Msg: fmt.Sprintf("code exceeds static limits: size %d bytes (limit %d)", len(code), a.lim.MaxSize)}
	}
	if !a.lim.Enabled() || a.lim == (Limits{MaxSize: a.lim.MaxSize}) {
		return nil
	}
	m, err := Measure(language, code)
	if err != nil {
		return &sandrun.RejectError{Msg: fmt.Sprintf("code cannot be checked against static limits: %v", err)}
	}
	var over []string
	chk := func(name string, v, limit int) {
		if limit > 0 && v > limit {
			over = append(over, fmt.Sprintf("%s %d (limit %d)", name, v, limit))
		}
	}
	chk("loops", m.Loops, a.lim.MaxLoops)
	chk("calls", m.Calls, a.lim.MaxCalls)
	chk("nesting depth", m.Depth, a.lim.MaxDepth)
	chk("statements", m.Statements, a.lim.MaxStatements)
	if len(over) > 0 {
		return &sandrun.RejectError{Msg: "code exceeds static limits: " + strings.Join(over, ", ")}
	}
	return nil
}

// Measure parses code and counts. An error means the code could not be
// parsed well enough to count.
func Measure(language, code string) (Metrics, error) {
	var m Metrics
	var err error
	switch lang.Base(lang.Normalize(language)) {
	case lang.Python:
		m, err = measurePython(code)
	case lang.JavaScript:
		m, err = measureJavaScript(code)
	case lang.Bash:
		m, err = measureBash(code)
	case lang.Starlark:
		m, err = measureStarlark(code)
	default:
		return m, fmt.Errorf("no parser for language %q", language)
	}
	m.Size = len(code)
	return m, err
}

// depthTracker records the deepest nesting seen.
type depthTracker struct{ cur, max int }

func (d *depthTracker) enter() {
	d.cur++
	d.max = max(d.max, d.cur)
}
func (d *depthTracker) leave() { d.cur-- }

// nesting adapts visit, which counts a node and reports whether it nests,
// to the callback of a syntax.Walk that is called again with nil at the
// end of each node (mvdan.cc/sh's and go.starlark.net's both are), and
// keeps d's depth.
func nesting[N comparable](d *depthTracker, visit func(N) bool) func(N) bool {
	var stack []bool // per visited node: did it nest?
	return func(n N) bool {
		var end N
		if n == end { // end of the node on top of the stack
			if stack[len(stack)-1] {
				d.leave()
			}
			stack = stack[:len(stack)-1]
			return true
		}
		nested := visit(n)
		if nested {
			d.enter()
		}
		stack = append(stack, nested)
		return true
	}
}

// ImportFinder implements sandrun.ImportFinder: the top-level modules
// python code imports, found by its parser (so an import inside a string
// or a comment is none). Other languages import nothing it knows of.
type ImportFinder struct{}

var _ sandrun.ImportFinder = ImportFinder{}

// Imports lists the top-level names of the modules code imports
// (import a.b, from a.b import c: "a"), without duplicates, in order;
// relative imports (from . import x) are the program's own.
func (ImportFinder) Imports(language, code string) ([]string, error) {
	if lang.Base(lang.Normalize(language)) != lang.Python {
		return nil, nil
	}
	return importsPython(code)
}
