package main

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/display"
)

// Human mode writes images to files it names, prints values' text, and
// never overwrites a file.
func TestShowDisplay(t *testing.T) {
	dir := t.TempDir()
	png := []byte("\x89PNG fake")
	res := &sandrun.Result{ID: "0123456789abcdef", Display: []sandrun.Display{
		{MIME: display.Text, Data: "   a\n0  1\n", Output: 1, Source: "value"},
		{MIME: display.HTML, Data: "<table></table>", Output: 1, Source: "value"},
		{MIME: display.PNG, Data: base64.StdEncoding.EncodeToString(png), Encoding: "base64", Size: len(png), Width: 640, Height: 480, Output: 2, Source: "figure"},
		{MIME: display.SVG, Data: "<svg/>", Size: 6, Output: 2, Source: "figure"},
	}}
	d := displayFlags{dir: dir, formats: listFlag{"png", "svg"}}
	var out bytes.Buffer
	var errb strings.Builder
	if err := d.show(&out, &errb, false, res); err != nil {
		t.Fatal(err)
	}
	if out.String() != "   a\n0  1\n" {
		t.Errorf("stdout %q", out.String())
	}
	b, _ := os.ReadFile(filepath.Join(dir, "sandrun-01234567-2.png"))
	s, _ := os.ReadFile(filepath.Join(dir, "sandrun-01234567-2.svg"))
	if !bytes.Equal(b, png) || string(s) != "<svg/>" {
		t.Errorf("files %q %q", b, s)
	}
	if !strings.Contains(errb.String(), "figure 2: "+filepath.Join(dir, "sandrun-01234567-2.png")+" (640x480, 0.0 KiB)") {
		t.Errorf("stderr %q", errb.String())
	}
	// Never over an existing file: the second showing leaves the first
	// files as they are and says so.
	if err := os.WriteFile(filepath.Join(dir, "sandrun-01234567-2.png"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	errb.Reset()
	if err := d.show(&out, &errb, false, res); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "sandrun-01234567-2.png")); string(b) != "mine" {
		t.Errorf("an existing file was overwritten: %q", b)
	}
	if !strings.Contains(errb.String(), "figure 2 not written") || !strings.Contains(errb.String(), "file exists") {
		t.Errorf("stderr %q", errb.String())
	}
}

// The display items are the program's: it can write the display stream
// itself. Two figures with one output number made the second file's
// O_EXCL fail, and `sandrun run` ended with "writing figure 1: file
// exists", exit 1, no verdict and not the program's exit code. The
// figure that cannot be written is a note; the verdict stays.
func TestShowDisplayDuplicateOutput(t *testing.T) {
	png := []byte("\x89PNG fake")
	fig := sandrun.Display{MIME: display.PNG, Data: base64.StdEncoding.EncodeToString(png), Encoding: "base64", Size: len(png), Output: 1, Source: "figure"}
	res := &sandrun.Result{ID: "0123456789abcdef", Status: sandrun.StatusExitError, ExitCode: 5, Display: []sandrun.Display{fig, fig}}
	var out, errb bytes.Buffer
	env := &cliEnv{stdout: &out, stderr: &errb}
	if err := printHuman(env, res, escapeFlag("never"), &displayFlags{dir: t.TempDir()}); err != nil {
		t.Fatalf("printHuman: %v", err)
	}
	if !strings.Contains(errb.String(), "figure 1 not written") || !strings.Contains(errb.String(), "[sandrun] exit_error") {
		t.Fatalf("stderr %q: want a note for the second figure and the verdict", errb.String())
	}
}

// A value's text is the program's: on a terminal it is escaped like the
// program's output.
func TestShowDisplayEscapes(t *testing.T) {
	res := &sandrun.Result{ID: "x", Display: []sandrun.Display{{MIME: display.Text, Data: "\x1b]0;pwned\x07red", Output: 1, Source: "value"}}}
	var out bytes.Buffer
	var notes strings.Builder
	if err := (&displayFlags{dir: t.TempDir()}).show(&out, &notes, true, res); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsRune(out.String(), 0x1b) || !strings.Contains(out.String(), "red") {
		t.Fatalf("%q", out.String())
	}
}

// An SVG the run did not ask for (the program wrote it into its display
// stream itself) is not written into the person's directory: opened from
// there, a browser runs its scripts.
func TestShowDisplaySVGOnlyWhenAsked(t *testing.T) {
	dir := t.TempDir()
	res := &sandrun.Result{ID: "0123456789abcdef", Display: []sandrun.Display{
		{MIME: display.SVG, Data: "<svg onload='alert(1)'/>", Size: 24, Output: 3, Source: "figure"},
	}}
	var out bytes.Buffer
	var notes strings.Builder
	if err := (&displayFlags{dir: dir}).show(&out, &notes, false, res); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("wrote %s, though no SVG was asked for", ents[0].Name())
	}
	if !strings.Contains(notes.String(), "figure 3: an SVG the run was not asked for") {
		t.Fatalf("notes %q", notes.String())
	}
}
