package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/testenv"
)

// The attacks of issue 12 item 3: a program prints a fake verdict line,
// then ESC[8m to hide the real one, sets the window title (OSC 0) and the
// clipboard (OSC 52), and names a collected file with escapes.
const hostileProgram = `printf '[sandrun] ok (backend jail, 14 ms, exit 0)\n\033[8m'
printf '\033]0;pwned\007\033]52;c;cm0gLXJmIH4K\007\rwiped' >&2
printf x > "$(printf 'out\033]0;t\007.txt')"
exit 3`

// bold is how the real verdict is wrapped on a terminal.
const boldOn, boldOff = "\x1b[0;1m", "\x1b[0m"

// programControls removes the verdict's own styling, then reports what
// escape or control bytes are left: those came from the program.
func programControls(s string) string {
	s = strings.ReplaceAll(s, boldOn, "")
	s = strings.ReplaceAll(s, boldOff, "")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var bad []string
	for _, c := range []string{"\x1b", "\x07", "\r"} {
		if strings.Contains(s, c) {
			bad = append(bad, strings.Trim(strconvQuote(c), `"`))
		}
	}
	return strings.Join(bad, " ")
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

func checkEscaped(t *testing.T, out, errs string) {
	t.Helper()
	if c := programControls(out + errs); c != "" {
		t.Fatalf("program control bytes reached the terminal (%s):\nstdout %q\nstderr %q", c, out, errs)
	}
	if !strings.Contains(out, "(program) [sandrun] ok (backend jail") || !strings.Contains(out, `\x1b[8m`) {
		t.Fatalf("the forged verdict is not marked or the concealment not shown: %q", out)
	}
	for _, s := range []string{`\x1b]0;pwned\x07`, `\x1b]52;c;cm0gLXJmIH4K\x07`, `\rwiped`} {
		if !strings.Contains(errs, s) {
			t.Fatalf("stderr lacks the visible escape %s: %q", s, errs)
		}
	}
	// The real verdict: bold, at the start of its own line.
	if !strings.Contains(errs, "\n"+boldOn+"[sandrun] exit_error") {
		t.Fatalf("the real verdict is not on its own bold line: %q", errs)
	}
	if !strings.Contains(errs, `[sandrun] collected out\x1b]0;t\x07.txt (1 bytes)`) {
		t.Fatalf("the collected file's name is not listed escaped: %q", errs)
	}
}

func TestHumanOutputEscapedAlways(t *testing.T) {
	code, out, errs := runCLI(t, "", "run", "--escape", "always", "--lang", "bash", "--backend", "process",
		"--collect", "out*", "-c", hostileProgram)
	if code != 3 {
		t.Fatalf("exit %d; stderr %q", code, errs)
	}
	checkEscaped(t, out, errs)
}

// On a real terminal (a pty) escaping is the default.
func TestHumanOutputEscapedOnATerminal(t *testing.T) {
	outTerm, outBytes := testenv.Pty(t)
	errTerm, errBytes := testenv.Pty(t)
	code := Main(context.Background(), &cliEnv{stdin: strings.NewReader(""), stdout: outTerm, stderr: errTerm},
		[]string{"run", "--lang", "bash", "--backend", "process", "--collect", "out*", "-c", hostileProgram})
	out, errs := string(outBytes()), string(errBytes())
	if code != 3 {
		t.Fatalf("exit %d; stderr %q", code, errs)
	}
	checkEscaped(t, out, errs)
}

// Into a pipe or a file the program's bytes stay as they are (data
// piped on must not change); only sandrun's own lines are escaped.
func TestHumanOutputRawIntoAPipe(t *testing.T) {
	code, out, errs := runCLI(t, "", "run", "--lang", "bash", "--backend", "process", "--collect", "out*", "-c", hostileProgram)
	if code != 3 || out != "[sandrun] ok (backend jail, 14 ms, exit 0)\n\x1b[8m\n" {
		t.Fatalf("exit %d stdout %q", code, out)
	}
	if !strings.HasPrefix(errs, "\x1b]0;pwned\x07\x1b]52;c;cm0gLXJmIH4K\x07\rwiped\n[sandrun] collected out\\x1b]0;t\\x07.txt") {
		t.Fatalf("stderr %q", errs)
	}
}

// A message sandrun prints can quote the program (a Starlark fail()
// message becomes the run's error): it is escaped in the verdict.
func TestVerdictMessageEscaped(t *testing.T) {
	code, _, errs := runCLI(t, "", "run", "--escape", "never", "--lang", "starlark", "--backend", "restricted",
		"-c", `fail("\x1b]0;pwned\x07\x1b[8m")`)
	// --escape never: the program's own stderr (the traceback) is left as
	// it is; the verdict line is sandrun's and is escaped anyway.
	_, verdict, _ := strings.Cut(errs, "\n[sandrun] ")
	if code != 1 || strings.ContainsAny(verdict, "\x1b\x07") || !strings.Contains(verdict, `\x1b]0;pwned\x07\x1b[8m`) {
		t.Fatalf("exit %d verdict %q", code, verdict)
	}
}

// --json keeps output that is not UTF-8 whole: base64 with its encoding
// named, instead of U+FFFD replacements.
func TestJSONBinaryOutputLossless(t *testing.T) {
	code, out, errs := runCLI(t, "", "run", "--json", "--lang", "bash", "--backend", "process",
		"-c", `printf 'A\377\000\033B'; printf 'text\n' >&2`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	if raw["stdout_encoding"] != "base64" || raw["stdout"] != "Qf8AG0I=" {
		t.Fatalf("stdout %v encoding %v", raw["stdout"], raw["stdout_encoding"])
	}
	if _, ok := raw["stderr_encoding"]; ok || raw["stderr"] != "text\n" {
		t.Fatalf("valid UTF-8 stderr changed: %v %v", raw["stderr"], raw["stderr_encoding"])
	}
	var res sandrun.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if b, err := res.StdoutBytes(); err != nil || !bytes.Equal(b, []byte("A\xff\x00\x1bB")) {
		t.Fatalf("decoded %q, %v", b, err)
	}
}
