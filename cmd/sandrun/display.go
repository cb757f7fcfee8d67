package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/display"
	"github.com/sandrun/sandrun/internal/termsafe"
)

// displayFlags are how human mode hands back what a program showed
// (Result.Display): images as files, values as text.
type displayFlags struct {
	dir     string
	formats listFlag
}

func (d *displayFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.dir, "display-dir", ".", "human mode: the directory figures are written to (sandrun-RUN-N.png), named on stderr")
	fs.Var(&d.formats, "figure-format", "png or svg: a format figures come back in (repeatable; default png)")
}

// extensions of the image types written to files.
var extensions = map[string]string{display.PNG: ".png", display.SVG: ".svg"}

// show writes res's images into d.dir, each named in notes (printed
// with the verdict) with its size, and writes its values' text to stdout
// as the program's output is written (escaped when escape is set); a
// value's HTML is for browsers: the console shows it. Files are created
// new: an existing file of the same name is not overwritten.
func (d *displayFlags) show(stdout io.Writer, notes *strings.Builder, escape bool, res *sandrun.Result) error {
	id := res.ID
	if len(id) > 8 {
		id = id[:8]
	}
	for _, it := range res.Display {
		ext, isImage := extensions[it.MIME]
		if !isImage {
			if it.MIME == display.Text {
				writeProgram(stdout, []byte(strings.TrimRight(it.Data, "\n")+"\n"), escape)
			}
			continue
		}
		// An SVG is a document a browser runs scripts in when it is
		// opened from the disk: written only when asked for (the
		// program can put one in its display stream unasked).
		if it.MIME == display.SVG && !slices.Contains(d.formats, "svg") {
			fmt.Fprintf(notes, "%s figure %d: an SVG the run was not asked for is not written (--figure-format svg)\n", termsafe.VerdictPrefix, it.Output)
			continue
		}
		// The items are the program's (it can write the display stream
		// itself, two items with one output number among them): a figure
		// that cannot be written is a note, never an error that would
		// take the verdict and the program's exit code with it.
		name := filepath.Join(d.dir, fmt.Sprintf("sandrun-%s-%d%s", id, it.Output, ext))
		if err := writeNew(name, it); err != nil {
			fmt.Fprintf(notes, "%s figure %d not written: %s\n", termsafe.VerdictPrefix, it.Output, termsafe.Escape(err.Error()))
			continue
		}
		size := ""
		if it.Width > 0 {
			size = fmt.Sprintf("%dx%d, ", it.Width, it.Height)
		}
		fmt.Fprintf(notes, "%s figure %d: %s (%s%.1f KiB)\n", termsafe.VerdictPrefix, it.Output, termsafe.Escape(name), size, float64(it.Size)/1024)
	}
	return nil
}

// writeNew writes an item's content to a new file (never over one).
func writeNew(name string, it sandrun.Display) error {
	b, err := it.Bytes()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
