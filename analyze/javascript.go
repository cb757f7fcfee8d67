package analyze

import (
	"fmt"
	"reflect"

	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"
)

// measureJavaScript parses with goja's ECMAScript parser (pure Go). goja
// has no AST walker, so walk reflects over the node structs: every field
// holding an ast.Node (or a slice of them) is a child.
func measureJavaScript(code string) (Metrics, error) {
	var m Metrics
	prog, err := parser.ParseFile(nil, "code.js", code, 0)
	if err != nil {
		return m, fmt.Errorf("javascript: %w", err)
	}
	var d depthTracker
	var visit func(v reflect.Value)
	nodeType := reflect.TypeOf((*ast.Node)(nil)).Elem()
	visit = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Interface:
			if !v.IsNil() {
				visit(v.Elem())
			}
			return
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				visit(v.Index(i))
			}
			return
		case reflect.Pointer:
			if v.IsNil() {
				return
			}
		case reflect.Struct:
		default:
			return
		}
		nested := false
		if v.Type().Implements(nodeType) && v.Kind() == reflect.Pointer {
			switch v.Interface().(type) {
			case *ast.ForStatement, *ast.ForInStatement, *ast.ForOfStatement, *ast.WhileStatement, *ast.DoWhileStatement:
				m.Loops++
				nested = true
			case *ast.CallExpression, *ast.NewExpression:
				m.Calls++
			case *ast.IfStatement, *ast.SwitchStatement, *ast.TryStatement, *ast.WithStatement,
				*ast.FunctionLiteral, *ast.ArrowFunctionLiteral, *ast.ClassLiteral:
				nested = true
			}
			if _, ok := v.Interface().(ast.Statement); ok {
				switch v.Interface().(type) {
				case *ast.BlockStatement, *ast.EmptyStatement:
				default:
					m.Statements++
				}
			}
		}
		if nested {
			d.enter()
		}
		s := v
		if s.Kind() == reflect.Pointer {
			s = s.Elem()
		}
		if s.Kind() == reflect.Struct {
			for i := 0; i < s.NumField(); i++ {
				if s.Type().Field(i).IsExported() {
					visit(s.Field(i))
				}
			}
		}
		if nested {
			d.leave()
		}
	}
	visit(reflect.ValueOf(prog))
	m.Depth = d.max
	return m, nil
}
