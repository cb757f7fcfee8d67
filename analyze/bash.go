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
	var stack []bool // per visited node: did it nest?
	syntax.Walk(f, func(n syntax.Node) bool {
		if n == nil { // end of the node on top of the stack
			if stack[len(stack)-1] {
				d.leave()
			}
			stack = stack[:len(stack)-1]
			return true
		}
		nested := false
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
		if nested {
			d.enter()
		}
		stack = append(stack, nested)
		return true
	})
	m.Depth = d.max
	return m, nil
}
