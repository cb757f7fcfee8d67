package lang

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sandrun/sandrun/internal/testenv"
)

func TestNormalizePaths(t *testing.T) {
	got := normalizePaths([]string{"/usr/lib", "/usr", "/opt/py/", "/opt/py/bin", "", "/lib"})
	want := []string{"/lib", "/opt/py", "/usr"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%v", got)
	}
}

func TestCommandTokens(t *testing.T) {
	l := &Language{Argv: []string{"/usr/bin/node", "--max-old-space-size={heap_mib}", "{file}"}}
	got := l.Command("main.js", 256<<20, []string{"x"})
	if strings.Join(got, " ") != "/usr/bin/node --max-old-space-size=192 main.js x" {
		t.Fatalf("%v", got)
	}
}

// A shim (like pyenv's) is a script that execs the real interpreter: the
// registry must report the real binary, not the shim.
func TestDiscoverResolvesShims(t *testing.T) {
	r := NewRegistry(Options{})
	real, err := r.Lookup(context.Background(), "python")
	if err != nil {
		testenv.Skip(t, "no python to shim: %v", err)
	}
	dir := t.TempDir()
	shim := filepath.Join(dir, "python3")
	os.WriteFile(shim, []byte("#!/bin/sh\nexec "+real.Interpreter+" \"$@\"\n"), 0o755)
	// A cache of its own: the host's (/var/cache/sandrun) keeps 16 entries
	// per language, and one entry per test run under a temporary PATH
	// evicted the entries of the PATHs people use, so their next one-shot
	// `sandrun run` probed through the pyenv shim again.
	r2 := NewRegistry(Options{SearchPath: dir, CacheDir: t.TempDir()})
	l, err := r2.Lookup(context.Background(), "python")
	if err != nil {
		t.Fatal(err)
	}
	if l.Interpreter != real.Interpreter || l.Version == "" || l.FileName != "main.py" {
		t.Fatalf("%+v", l)
	}
	if _, err := NewRegistry(Options{SearchPath: t.TempDir(), CacheDir: t.TempDir()}).Lookup(context.Background(), "bash"); err == nil || !strings.Contains(err.Error(), "no interpreter found") {
		t.Fatalf("missing interpreter: %v", err)
	}
	if _, err := r.Lookup(context.Background(), "cobol"); err == nil {
		t.Fatal("unknown language found")
	}
}

// The data runtime is Debian's python3 with its scientific packages; the
// probe reports each module's version without importing it.
func TestPythonDataRuntime(t *testing.T) {
	r := NewRegistry(Options{NoCache: true})
	l, err := r.Lookup(context.Background(), PythonData)
	if err != nil {
		if os.Getenv("SANDRUN_TEST_STRICT") == "1" {
			t.Fatalf("the data runtime is missing (scripts/setup.d installs it): %v", err)
		}
		t.Skip(err)
	}
	info, _ := About(PythonData)
	if l.Of != Python || l.Interpreter == "" || l.Env["MPLBACKEND"] == "" || len(l.Modules) != len(info.Modules) {
		t.Fatalf("%+v", l)
	}
	for _, m := range []string{"numpy", "pandas", "matplotlib"} {
		if l.Modules[m] == "" {
			t.Errorf("no version for %s: %v", m, l.Modules)
		}
	}
}

// An interpreter without the runtime's modules makes the runtime not
// installed (another tier or image may have it), not a failed probe.
func TestDataRuntimeMissingModules(t *testing.T) {
	spec := pythonDataSpec()
	spec.Candidates = []string{"python3"} // the first on PATH (here pyenv's, without numpy)
	r := NewRegistry(Options{NoCache: true, Extra: []Spec{spec}})
	if _, err := r.Lookup(context.Background(), Python); err != nil {
		t.Skip(err)
	}
	l, err := r.Lookup(context.Background(), PythonData)
	if err == nil {
		t.Skipf("%s has the scientific stack", l.Interpreter)
	}
	if !errors.Is(err, ErrNotInstalled) || errors.Is(err, ErrProbeFailed) || !strings.Contains(err.Error(), "lacks") {
		t.Fatalf("want not installed, naming what is missing: %v", err)
	}
}
