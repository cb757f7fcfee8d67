package lang

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestCatalog(t *testing.T) {
	seen := map[string]string{}
	for _, l := range Known() {
		if l.FileName == "" || len(l.Extensions) == 0 || len(l.OOMMarkers) == 0 {
			t.Errorf("%s: incomplete %+v", l.Name, l)
		}
		for _, n := range append([]string{l.Name}, l.Aliases...) {
			if prev, dup := seen[n]; dup {
				t.Errorf("%q names both %s and %s", n, prev, l.Name)
			}
			seen[n] = l.Name
			if got := Normalize(" " + strings.ToUpper(n) + " "); got != l.Name {
				t.Errorf("Normalize(%q) = %q, want %q", n, got, l.Name)
			}
		}
		for _, e := range l.Extensions {
			if got := ByExtension("dir/prog" + strings.ToUpper(e)); got != l.Name {
				t.Errorf("ByExtension(%s) = %q", e, got)
			}
		}
	}
	if Normalize("cobol") != "cobol" || ByExtension("x.c") != "" {
		t.Error("unknown names must stay unknown")
	}
	// Known hands out copies: the catalogue cannot be edited through it.
	k := Known()
	k[0].Aliases[0] = "changed"
	if Known()[0].Aliases[0] == "changed" {
		t.Error("Known shares the catalogue's slices")
	}
	// The registry's built-in specs are catalogue languages.
	for _, n := range NewRegistry(Options{}).Names() {
		if _, ok := About(n); !ok {
			t.Errorf("registry language %q is not in the catalogue", n)
		}
	}
}

// The catalogue is the one list of languages: no other non-test Go file
// in the module spells a language name as a string literal. Each
// exception is a string that is not a language (a re-exec role name).
func TestOneListOfLanguages(t *testing.T) {
	names := map[string]bool{}
	for _, n := range KnownNames() {
		names[n] = true
	}
	exempt := map[string]bool{
		// The Starlark worker's re-exec role: a process role, not a
		// language name.
		filepath.Join("backend", "restricted", "worker.go") + ":RoleWorker": true,
	}
	root := ".."
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if rel != "." && (rel == "lang" || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		var names2 []string
		ast.Inspect(f, func(n ast.Node) bool {
			if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Names) == 1 && exempt[rel+":"+vs.Names[0].Name] {
				return false
			}
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			if s, err := strconv.Unquote(lit.Value); err == nil && names[s] {
				names2 = append(names2, fset.Position(lit.Pos()).String()+": "+lit.Value)
			}
			return true
		})
		for _, n := range names2 {
			t.Errorf("%s: use the lang package's names instead", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
