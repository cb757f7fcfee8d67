package lang

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestCatalog(t *testing.T) {
	seen := map[string]string{}
	for _, l := range Known() {
		// A runtime (Of) shares its language's extensions.
		if l.FileName == "" || (len(l.Extensions) == 0) != (l.Of != "") || len(l.OOMMarkers) == 0 {
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
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution|parser.ParseComments)
		if err != nil {
			return err
		}
		if ast.IsGenerated(f) {
			// Data generated from elsewhere (gitleaks' rules name "bash"
			// and "python" among their keywords), not code that picks a
			// language.
			return nil
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

func TestRuntimes(t *testing.T) {
	for _, l := range Known() {
		if l.Of == "" {
			continue
		}
		base, ok := About(l.Of)
		if !ok || base.Of != "" {
			t.Errorf("%s: a runtime of %q, which is not a language", l.Name, l.Of)
		}
		if l.FileName != base.FileName || Base(l.Name) != l.Of {
			t.Errorf("%s: file %q and base %q, want %q and %q", l.Name, l.FileName, Base(l.Name), base.FileName, l.Of)
		}
	}
	rt := func(runtime string, imports ...string) string {
		info, ok := RuntimeFor(Python, runtime, imports)
		if !ok {
			return "!"
		}
		return info.Name
	}
	cases := []struct{ got, want string }{
		{rt("", "os", "json"), Python},
		{rt("", "os", "pandas"), PythonData},
		{rt("auto", "mpl_toolkits"), PythonData},
		{rt("auto", "numpyx"), Python},
		{rt("plain", "numpy"), Python},
		{rt("data"), PythonData},
		{rt(" Data "), PythonData},
		{rt("pydata"), PythonData},
		{rt("python-data"), PythonData},
		{rt("python"), Python},
		{rt("cobol"), "!"},
	}
	for i, c := range cases {
		if c.got != c.want {
			t.Errorf("case %d: %q, want %q", i, c.got, c.want)
		}
	}
	if _, ok := RuntimeFor(JavaScript, "data", nil); ok {
		t.Error("javascript has no data runtime")
	}
	if info, _ := RuntimeFor(PythonData, "", []string{"os"}); info.Name != PythonData {
		t.Errorf("a runtime asked by name stays itself: %s", info.Name)
	}
}

// Every Debian package of a runtime is installed by the project's setup
// scripts, so CI (a fresh machine) has the runtimes the tests use.
func TestSetupInstallsPackages(t *testing.T) {
	var text strings.Builder
	files, _ := filepath.Glob("../scripts/setup.d/*.sh")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text.Write(b)
	}
	words := map[string]bool{}
	for _, w := range strings.Fields(text.String()) {
		words[w] = true
	}
	for _, l := range Known() {
		for _, p := range l.Packages {
			if !words[p] {
				t.Errorf("%s needs the Debian package %s, which no scripts/setup.d fragment installs", l.Name, p)
			}
		}
	}
}
