// Package display carries what a program shows, beyond its output
// streams, back in the Result: matplotlib figures (PNG, SVG on request)
// and a session step's last value (text, and HTML for a table), as a list
// of items in the order they were shown, like a notebook's outputs.
//
// The python side is one module, display.py, that runs inside the
// sandbox as the program: matplotlib's backend (MPLBACKEND=module://
// sandrun_display, set by the runtime's catalogue entry) renders each
// figure when it is shown or, still open, when the program ends, and
// writes one JSON line per rendering to .sandrun/display.jsonl in the
// work directory, which the supervisor collects with the run's files (the
// same on every tier); a session's driver hands the lines over its
// protocol instead. Nothing written there is trusted: Parse checks every
// line (known types only, PNGs that decode, text that is UTF-8) and caps
// the items by count and size.
package display

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"unicode/utf8"

	_ "embed"
)

//go:embed display.py
var source string

// Source is the python module's text.
func Source() string { return source }

const (
	// Module is the python module's name (the data runtime's MPLBACKEND
	// names it); ModuleFile is the file it is written to in the work
	// directory, where the program's directory (sys.path[0]) finds it.
	Module     = "sandrun_display"
	ModuleFile = Module + ".py"
	// Dir is the work directory's folder for sandrun's own files; Stream
	// is the file the module appends its items to.
	Dir    = ".sandrun"
	Stream = Dir + "/display.jsonl"
	// FormatsEnv names the figure formats the module renders
	// (comma-separated: png, svg).
	FormatsEnv = "SANDRUN_FIGURE_FORMATS"
	// MaxItems caps the items of one run or step (the module stops
	// rendering past it too).
	MaxItems = 64
)

// The MIME types an item may have.
const (
	PNG  = "image/png"
	SVG  = "image/svg+xml"
	Text = "text/plain"
	HTML = "text/html"
)

// Formats maps the figure formats a request may ask for to their types.
var Formats = map[string]string{"png": PNG, "svg": SVG}

// Item is one thing the program showed, in one format.
type Item struct {
	// MIME is image/png, image/svg+xml, text/plain or text/html.
	MIME string `json:"mime"`
	// Data is the content: the text itself for text types (SVG
	// included), base64 when Encoding is "base64" (PNG).
	Data     string `json:"data"`
	Encoding string `json:"encoding,omitempty"`
	// Size is the content's size in bytes (decoded).
	Size int `json:"size"`
	// Width and Height are an image's size in pixels (PNG).
	Width  int `json:"width,omitempty"`
	Height int `json:"height,omitempty"`
	// Output numbers the outputs from 1, in the order they were shown;
	// the items of one output are the same thing in several formats (a
	// figure's PNG and SVG, a value's text and HTML): show the richest
	// one you can.
	Output int `json:"output"`
	// Source is "figure" (a matplotlib figure) or "value" (a session
	// step's last expression).
	Source string `json:"source"`
	// Figure is the matplotlib figure number.
	Figure int `json:"figure,omitempty"`
}

// Bytes returns the decoded content.
func (it Item) Bytes() ([]byte, error) {
	if it.Encoding == "base64" {
		return base64.StdEncoding.DecodeString(it.Data)
	}
	return []byte(it.Data), nil
}

// IsText says whether the content is text (the sanitizer's business).
func (it Item) IsText() bool { return it.Encoding == "" }

// line is one rendering as the module writes it.
type line struct {
	MIME   string `json:"mime"`
	Data   string `json:"data"`
	Text   string `json:"text"`
	Output int    `json:"output"`
	Source string `json:"source"`
	Figure int    `json:"figure"`
}

// Parse reads the module's JSON lines into items: at most MaxItems, whose
// content totals at most maxBytes (0: no cap); an item past a cap is
// dropped whole (a cut image is no image). A line that is not a
// well-formed item is dropped. cut says the stream itself was truncated
// (its last line may be partial). The notes say what was dropped and why,
// for the result's warnings.
func Parse(stream []byte, maxBytes int64, cut bool) (items []Item, notes []string) {
	var total int64
	var bad, over int
	lines := bytes.Split(stream, []byte("\n"))
	if cut && len(lines) > 0 {
		lines = lines[:len(lines)-1] // partial
		notes = append(notes, "display: the program showed more than could be collected; the last items are missing")
	}
	for _, ln := range lines {
		if len(bytes.TrimSpace(ln)) == 0 {
			continue
		}
		it, err := parseLine(ln)
		if err != nil {
			bad++
			continue
		}
		if len(items) >= MaxItems || (maxBytes > 0 && total+int64(it.Size) > maxBytes) {
			over++
			continue
		}
		total += int64(it.Size)
		items = append(items, it)
	}
	if bad > 0 {
		notes = append(notes, fmt.Sprintf("display: %d malformed item(s) dropped", bad))
	}
	if over > 0 {
		notes = append(notes, fmt.Sprintf("display: %d item(s) dropped: past %d items or the output limit (%d bytes)", over, MaxItems, maxBytes))
	}
	return items, notes
}

func parseLine(b []byte) (Item, error) {
	var l line
	if err := json.Unmarshal(b, &l); err != nil {
		return Item{}, err
	}
	it := Item{MIME: l.MIME, Output: l.Output, Source: l.Source, Figure: l.Figure}
	if it.Source != "figure" && it.Source != "value" {
		return Item{}, fmt.Errorf("unknown source %q", it.Source)
	}
	switch l.MIME {
	case PNG:
		raw, err := base64.StdEncoding.DecodeString(l.Data)
		if err != nil {
			return Item{}, err
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(raw))
		if err != nil {
			return Item{}, fmt.Errorf("not a PNG: %w", err)
		}
		it.Data, it.Encoding, it.Size, it.Width, it.Height = l.Data, "base64", len(raw), cfg.Width, cfg.Height
	case SVG, Text, HTML:
		if !utf8.ValidString(l.Text) {
			return Item{}, fmt.Errorf("%s is not UTF-8", l.MIME)
		}
		it.Data, it.Size = l.Text, len(l.Text)
	default:
		return Item{}, fmt.Errorf("unknown type %q", l.MIME)
	}
	return it, nil
}
