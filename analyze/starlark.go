package analyze

import (
	"fmt"

	"go.starlark.net/syntax"
)

// measureStarlark parses with go.starlark.net/syntax, the parser of the
// interpreter sandrun runs Starlark with, in its most permissive mode so
// that code the restricted tier accepts is never refused for syntax.
func measureStarlark(code string) (Metrics, error) {
	var m Metrics
	opts := &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true, Recursion: true}
	f, err := opts.Parse("code.star", code, 0)
	if err != nil {
		return m, fmt.Errorf("starlark: %w", err)
	}
	var d depthTracker
	syntax.Walk(f, nesting(&d, func(n syntax.Node) (nested bool) {
		switch n.(type) {
		case *syntax.ForStmt, *syntax.WhileStmt:
			m.Loops++
			nested = true
		case *syntax.ForClause:
			m.Loops++
		case *syntax.CallExpr:
			m.Calls++
		case *syntax.IfStmt, *syntax.DefStmt, *syntax.LambdaExpr:
			nested = true
		}
		if _, ok := n.(syntax.Stmt); ok {
			m.Statements++
		}
		return nested
	}))
	m.Depth = d.max
	return m, nil
}
