package analyze

import (
	"fmt"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// measureBash parses with mvdan.cc/sh (the parser behind shfmt). Every
// command invocation counts as a call; for, while and until are loops;
// compound commands and functions nest.
func measureBash(code string) (Metrics, error) {
	var m Metrics
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(code), "code.sh")
	if err != nil {
		return m, fmt.Errorf("bash: %w", err)
	}
	var d depthTracker
	syntax.Walk(f, nesting(&d, func(n syntax.Node) (nested bool) {
		switch x := n.(type) {
		case *syntax.ForClause, *syntax.WhileClause:
			m.Loops++
			nested = true
		case *syntax.IfClause, *syntax.CaseClause, *syntax.FuncDecl, *syntax.Subshell, *syntax.Block:
			nested = true
		case *syntax.CallExpr:
			if len(x.Args) > 0 {
				m.Calls++
			}
		case *syntax.Stmt:
			m.Statements++
		}
		return nested
	}))
	m.Depth = d.max
	return m, nil
}
