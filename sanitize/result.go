package sanitize

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"sort"

	"github.com/sandrun/sandrun"
)

// counter aggregates detections per (rule, stream), never the secret.
type counter struct {
	order []key
	n     map[key]int
}

type key struct{ rule, stream string }

func (c *counter) add(rule, stream string) {
	if c.n == nil {
		c.n = map[key]int{}
	}
	k := key{rule, stream}
	if c.n[k] == 0 {
		c.order = append(c.order, k)
	}
	c.n[k]++
}

// list returns the detections grouped by stream in first-seen order and
// sorted by rule within a stream.
func (c *counter) list() []sandrun.Detection {
	out := make([]sandrun.Detection, 0, len(c.order))
	streamRank := map[string]int{}
	for _, k := range c.order {
		if _, ok := streamRank[k.stream]; !ok {
			streamRank[k.stream] = len(streamRank)
		}
		out = append(out, sandrun.Detection{Rule: k.rule, Stream: k.stream, Count: c.n[k]})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if a, b := streamRank[out[i].Stream], streamRank[out[j].Stream]; a != b {
			return a < b
		}
		return out[i].Rule < out[j].Rule
	})
	return out
}

// truncated matches the notice internal/capture appends when a cap cut
// the output; it is split off before scanning and put back untouched.
var truncated = regexp.MustCompile(`\n\[OUTPUT TRUNCATED: \d+ bytes, showing first \d+\]\n$`)

func (s *Sanitizer) text(text, stream, file string, c *counter) string {
	body, notice := text, ""
	if loc := truncated.FindStringIndex(text); loc != nil {
		body, notice = text[:loc[0]], text[loc[0]:]
	}
	return redact(body, s.find(body, file), func(r string) { c.add(r, stream) }) + notice
}

// binarySniff is how much of a file decides whether it is binary: git's
// rule, a NUL byte in the first 8000 bytes.
const binarySniff = 8000

// IsBinary reports whether content is treated as binary (not scanned).
func IsBinary(content []byte) bool {
	return bytes.IndexByte(content[:min(len(content), binarySniff)], 0) >= 0
}

// SanitizeResult scrubs res in place: stdout, stderr, the error message,
// text output files (binary ones are left alone) and the string values
// of restricted-tier variables, and the text items of Display. It sets Sanitized and Detections. A
// scrubbed file's SHA256 is recomputed so it describes the content
// returned; Size stays the size on disk.
func (s *Sanitizer) SanitizeResult(res *sandrun.Result) {
	var c counter
	res.Stdout = s.text(res.Stdout, "stdout", "", &c)
	res.Stderr = s.text(res.Stderr, "stderr", "", &c)
	res.Error = s.text(res.Error, "error", "", &c)
	for i := range res.Files {
		f := &res.Files[i]
		if len(f.Content) == 0 || IsBinary(f.Content) {
			continue
		}
		in := string(f.Content)
		out := s.text(in, f.Name, f.Name, &c)
		if out != in {
			f.Content = []byte(out)
			sum := sha256.Sum256(f.Content)
			f.SHA256 = hex.EncodeToString(sum[:])
		}
	}
	for k, v := range res.Variables {
		res.Variables[k] = s.value(v, &c)
	}
	// What the program showed: its text parts (a value's text and HTML,
	// an SVG's markup) under the rules of text; PNG data is binary.
	for i := range res.Display {
		d := &res.Display[i]
		if d.IsText() {
			d.Data = s.text(d.Data, "display", "", &c)
			d.Size = len(d.Data)
		}
	}
	res.Sanitized = true
	res.Detections = append(res.Detections[:0:0], c.list()...)
}

// value scrubs the strings inside a decoded value (maps, lists, strings).
func (s *Sanitizer) value(v any, c *counter) any {
	switch x := v.(type) {
	case string:
		return s.text(x, "variables", "", c)
	case []any:
		for i := range x {
			x[i] = s.value(x[i], c)
		}
	case map[string]any:
		for k := range x {
			x[k] = s.value(x[k], c)
		}
	}
	return v
}
