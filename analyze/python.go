//go:build cgo

package analyze

import (
	"fmt"
	"strings"

	sitter "github.com/tree-sitter/go-tree-sitter"
	tspython "github.com/tree-sitter/tree-sitter-python/bindings/go"
)

// measurePython walks tree-sitter's concrete syntax tree with a cursor
// (no recursion, so a deeply nested parser bomb cannot blow the stack).
// tree-sitter recovers from syntax errors with ERROR nodes; the counts
// then cover what parsed and the interpreter reports the error itself.
func measurePython(code string) (Metrics, error) {
	var m Metrics
	p := sitter.NewParser()
	defer p.Close()
	if err := p.SetLanguage(sitter.NewLanguage(tspython.Language())); err != nil {
		return m, fmt.Errorf("python grammar: %w", err)
	}
	tree := p.Parse([]byte(code), nil)
	if tree == nil {
		return m, fmt.Errorf("python: the parser gave no tree")
	}
	defer tree.Close()
	c := tree.Walk()
	defer c.Close()
	var d depthTracker
	for {
		n := c.Node()
		kind := n.Kind()
		switch {
		case kind == "for_statement", kind == "while_statement", kind == "for_in_clause":
			m.Loops++
		case kind == "call":
			m.Calls++
		}
		if n.IsNamed() && (strings.HasSuffix(kind, "_statement") || kind == "function_definition" || kind == "class_definition") {
			m.Statements++
		}
		if kind == "block" {
			d.enter()
		}
		if c.GotoFirstChild() {
			continue
		}
		// Leave finished nodes until one has a next sibling.
		for {
			if c.Node().Kind() == "block" {
				d.leave()
			}
			if c.GotoNextSibling() {
				break
			}
			if !c.GotoParent() {
				m.Depth = d.max
				return m, nil
			}
		}
	}
}

// importsPython walks the tree (without recursion, as measurePython) for
// import statements.
func importsPython(code string) ([]string, error) {
	if !strings.Contains(code, "import") {
		// Both import statements spell the keyword in ASCII, as the
		// grammar's literal: without it there is none, and the parser
		// (about 0.1 ms of cgo calls, on every python run's path) is
		// not needed.
		return nil, nil
	}
	p := sitter.NewParser()
	defer p.Close()
	if err := p.SetLanguage(sitter.NewLanguage(tspython.Language())); err != nil {
		return nil, fmt.Errorf("python grammar: %w", err)
	}
	src := []byte(code)
	tree := p.Parse(src, nil)
	if tree == nil {
		return nil, fmt.Errorf("python: the parser gave no tree")
	}
	defer tree.Close()
	var out []string
	seen := map[string]bool{}
	add := func(n *sitter.Node) {
		if n == nil || n.Kind() != "dotted_name" {
			return // a relative import: the program's own module
		}
		top, _, _ := strings.Cut(n.Utf8Text(src), ".")
		if top = strings.TrimSpace(top); top != "" && !seen[top] {
			seen[top] = true
			out = append(out, top)
		}
	}
	c := tree.Walk()
	defer c.Close()
	for {
		n := c.Node()
		switch n.Kind() {
		case "import_statement":
			for i := uint(0); i < n.NamedChildCount(); i++ {
				ch := n.NamedChild(i)
				if ch.Kind() == "aliased_import" {
					ch = ch.ChildByFieldName("name")
				}
				add(ch)
			}
		case "import_from_statement":
			add(n.ChildByFieldName("module_name"))
		}
		if c.GotoFirstChild() {
			continue
		}
		for !c.GotoNextSibling() {
			if !c.GotoParent() {
				return out, nil
			}
		}
	}
}
