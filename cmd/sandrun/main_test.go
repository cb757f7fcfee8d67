package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
)

func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), &cliEnv{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func TestRunHumanAndJSON(t *testing.T) {
	code, out, errs := runCLI(t, "", "run", "--lang", "bash", "--backend", "process", "-c", "echo hello; exit 3")
	if code != 3 || out != "hello\n" || !strings.Contains(errs, "[sandrun] exit_error") {
		t.Fatalf("code %d out %q err %q", code, out, errs)
	}
	code, out, _ = runCLI(t, "", "run", "--json", "--lang", "bash", "--backend", "process", "-c", "echo hi")
	var res sandrun.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 || res.Stdout != "hi\n" || res.Status != sandrun.StatusOK {
		t.Fatalf("code %d res %+v err %v", code, res, err)
	}
	// Code from a file, language from its extension, args after --.
	f := t.TempDir() + "/x.sh"
	os.WriteFile(f, []byte(`echo "$1-$2"`), 0o600)
	code, out, _ = runCLI(t, "", "run", f, "--backend", "process", "--", "a", "b")
	if code != 0 || out != "a-b\n" {
		t.Fatalf("code %d out %q", code, out)
	}
	code, out, _ = runCLI(t, "echo from-stdin", "run", "--lang", "bash", "--backend", "process", "-")
	if code != 0 || out != "from-stdin\n" {
		t.Fatalf("code %d out %q", code, out)
	}
}

func TestRunVerdictExitCodes(t *testing.T) {
	code, _, errs := runCLI(t, "", "run", "--lang", "bash", "--backend", "process", "--timeout", "200ms", "-c", "sleep 5")
	if code != exitTimeout || !strings.Contains(errs, "timeout") {
		t.Fatalf("code %d err %q", code, errs)
	}
}

func TestBadCommandLines(t *testing.T) {
	for _, args := range [][]string{
		{"run", "-c", "x"},
		{"run"},
		{"run", "file.unknownext"},
		{"frobnicate"},
	} {
		code, _, errs := runCLI(t, "", args...)
		if code != 2 || errs == "" {
			t.Errorf("%q: code %d err %q", args, code, errs)
		}
	}
	code, _, errs := runCLI(t, "", "run", "--lang", "cobol", "-c", "x")
	if code != exitRejected || !strings.Contains(errs, `unknown language "cobol"`) {
		t.Fatalf("code %d err %q", code, errs)
	}
}
