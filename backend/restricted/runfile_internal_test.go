package restricted

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sandrun/sandrun/internal/driver"
)

// TestRunFileProgramMode: with --program the file runner says it is
// ready, waits for its run's frame, and only then reads the file (a warm
// pool writes it meanwhile); what it prints and returns is what a cold
// run of the same file gives. Without a run (EOF) it ends at once, 0.
func TestRunFileProgramMode(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "main.star")
	for _, code := range []string{"print('hi', 1 + 2)", "def f(:\n  pass", "x = 1 // 0"} {
		if err := os.WriteFile(file, []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
		var coldOut, coldErr bytes.Buffer
		coldCode := runFile([]string{file}, strings.NewReader(""), &coldOut, &coldErr)

		frame, err := driver.ProgramFrame(driver.Program{})
		if err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		got := runFile([]string{"--program", file}, bytes.NewReader(frame), &out, &errb)
		stderr, ready := strings.CutPrefix(errb.String(), driver.ProgramReady)
		if !ready {
			t.Fatalf("%q: stderr %q does not start with the ready line", code, errb.String())
		}
		if got != coldCode || out.String() != coldOut.String() || stderr != coldErr.String() {
			t.Errorf("%q:\nprogram: %d %q %q\ncold:    %d %q %q", code, got, out.String(), stderr, coldCode, coldOut.String(), coldErr.String())
		}
	}
	// The pool gave up before a run: no file is read (there is none).
	var errb bytes.Buffer
	if got := runFile([]string{"--program", filepath.Join(dir, "missing.star")}, strings.NewReader(""), new(bytes.Buffer), &errb); got != 0 || errb.String() != driver.ProgramReady {
		t.Errorf("no run: exit %d stderr %q, want 0 and only the ready line", got, errb.String())
	}
}
