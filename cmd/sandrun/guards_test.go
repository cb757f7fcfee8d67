package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), &cliEnv{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}, args)
	return out.String(), errb.String(), code
}

func needPython(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
}

// The "done when": the key is redacted, the verdict counts it.
func TestRunRedactsByDefault(t *testing.T) {
	needPython(t)
	key := "sk-proj-" + strings.Repeat("aB3", 12)
	out, errOut, code := runCLI(t, "run", "--lang", "python", "--backend", "process", "-c", `print("key `+key+`")`)
	if code != 0 || out != "key [REDACTED_API_KEY]\n" || !strings.Contains(errOut, "1 redactions") {
		t.Fatalf("code %d stdout %q stderr %q", code, out, errOut)
	}
	out, _, _ = runCLI(t, "run", "--lang", "python", "--backend", "process", "--no-sanitize", "-c", `print("key `+key+`")`)
	if !strings.Contains(out, key) {
		t.Errorf("--no-sanitize still redacted: %q", out)
	}
}

func TestRunStaticLimits(t *testing.T) {
	needPython(t)
	_, errOut, code := runCLI(t, "run", "--lang", "python", "--backend", "process", "--max-loops", "1",
		"-c", "for i in range(2):\n    for j in range(2):\n        print(i, j)\n")
	if code != exitRejected || !strings.Contains(errOut, "loops 2 (limit 1)") {
		t.Fatalf("code %d stderr %q", code, errOut)
	}
	if _, _, code := runCLI(t, "run", "--lang", "bash", "--sanitize-rule", "bad", "-c", "echo"); code != 2 {
		t.Errorf("bad --sanitize-rule: exit %d, want 2", code)
	}
}
