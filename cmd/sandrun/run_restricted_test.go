package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), &cliEnv{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

// sandrun run --backend restricted reproduces the seed's RestrictedPython
// outputs: the math example's prints and the namespace example's
// variables.
func TestRunRestrictedReproducesSeed(t *testing.T) {
	code, out, errs := runCLI(t, "run", "--backend", "restricted", "--lang", "starlark", "-c", seedMathStarlark)
	if code != 0 || out != seedMathOutput {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	code, out, errs = runCLI(t, "run", "--backend", "restricted", "--lang", "starlark", "--json", "-c",
		"numbers = [1, 2, 3, 4, 5]\ntotal = sum(numbers)\naverage = total / len(numbers)\nsquared = [n * n for n in numbers]\n")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res struct {
		Status    string
		Variables map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"total": "15", "average": "3.0", "squared": "[1,4,9,16,25]"} {
		if got := strings.Join(strings.Fields(string(res.Variables[k])), ""); got != want {
			t.Errorf("%s = %s, want %s", k, got, want)
		}
	}
	code, _, errs = runCLI(t, "run", "--backend", "restricted", "--lang", "starlark", "-c", "import os")
	if code != exitCompileError || !strings.Contains(errs, "--backend jail") {
		t.Fatalf("import: exit %d, stderr %q", code, errs)
	}
}

// --lang starlark on an OS tier runs the same interpreter (this binary).
func TestRunStarlarkOnProcessTier(t *testing.T) {
	code, out, errs := runCLI(t, "run", "--backend", "process", "--lang", "starlark", "-c", seedMathStarlark)
	if code != 0 || out != seedMathOutput {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}
