// Package termsafe makes untrusted text safe to write to a person's
// terminal. A program's output, an error message that quotes it, or a
// file name it chose can carry bytes a terminal acts on instead of
// printing: CSI sequences that hide text (ESC[8m), move the cursor or
// clear the screen, OSC sequences that set the window title (OSC 0) or
// the clipboard (OSC 52), a lone carriage return that lets the next text
// overwrite a line, and bidirectional overrides that reorder what is
// shown. Escape turns each of those into visible text; Program also
// marks lines that imitate sandrun's own verdict line.
package termsafe

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// VerdictPrefix starts every line sandrun itself prints about a run.
const VerdictPrefix = "[sandrun]"

// Marker is put before a line of program output that starts (after
// blanks) with VerdictPrefix, so the person can tell it from the real
// verdict.
const Marker = "(program) "

// Escape returns s with every byte a terminal would interpret rather than
// print shown as an escape in Go's notation: C0 controls other than
// newline and tab (\x1b, \x07, ...), a carriage return unless it ends a
// line as part of "\r\n", DEL, C1 controls (\u009b), bidirectional
// formatting characters (\u202e) and bytes that are not UTF-8 (\xff).
// Printable text, including non-ASCII, is unchanged.
func Escape(s string) string {
	if safe(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\n' || c == '\t':
				b.WriteByte(c)
			case c == '\r' && i+1 < len(s) && s[i+1] == '\n':
				b.WriteByte(c)
			case c == '\r':
				b.WriteString(`\r`)
			case c < 0x20 || c == 0x7f:
				fmt.Fprintf(&b, `\x%02x`, c)
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, c)
		case hidden(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// safe reports whether Escape would return s unchanged (the common case,
// checked without allocating).
func safe(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || hidden(r) {
			return false
		}
		i += n
	}
	return true
}

// hidden reports C1 controls and the Unicode bidirectional formatting
// characters (embeddings, overrides, isolates, marks).
func hidden(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f:
		return true
	case r >= 0x202a && r <= 0x202e:
		return true
	case r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// blank reports runes a terminal draws as nothing or as white space, which
// a forged verdict line could start with to look like the real one while
// escaping the marker: spaces of every kind (U+00A0, U+3000...), format
// characters (U+200B zero width space, U+FEFF, U+2060...), combining marks
// with nothing to combine with, and the Hangul and Braille blanks.
func blank(r rune) bool {
	switch r {
	case 0x115f, 0x1160, 0x2800, 0x3164, 0xffa0:
		return true
	}
	return unicode.IsSpace(r) || unicode.In(r, unicode.Cf, unicode.Mn, unicode.Me)
}

// Program returns a stream of program output ready for a terminal: each
// byte escaped (Escape), each line that would start like sandrun's own
// verdict line marked with Marker, and a final newline added when the
// output does not end with one, so whatever sandrun prints next starts
// on a line of its own.
func Program(s string) string {
	if s == "" {
		return ""
	}
	e := Escape(s)
	if !strings.Contains(e, VerdictPrefix) && strings.HasSuffix(e, "\n") {
		return e
	}
	lines := strings.SplitAfter(e, "\n")
	var b strings.Builder
	b.Grow(len(e) + 16)
	for _, l := range lines {
		if strings.HasPrefix(strings.TrimLeftFunc(l, blank), VerdictPrefix) {
			b.WriteString(Marker)
		}
		b.WriteString(l)
	}
	if !strings.HasSuffix(e, "\n") {
		b.WriteByte('\n')
	}
	return b.String()
}
