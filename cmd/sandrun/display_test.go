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
	d := displayFlags{dir: dir}
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
	if err := d.show(&out, &errb, false, res); err == nil {
		t.Error("an existing file was overwritten")
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
