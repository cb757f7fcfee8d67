package termsafe

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// The attacks of issue 12 item 3, and what must come out.
func TestEscape(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"plain text", "hello, wörld ✓\n\tindented\n", "hello, wörld ✓\n\tindented\n"},
		{"CRLF line ends", "a\r\nb\r\n", "a\r\nb\r\n"},
		{"conceal the verdict", "x\x1b[8m", `x\x1b[8m`},
		{"clear the screen", "\x1b[2J\x1b[H", `\x1b[2J\x1b[H`},
		{"window title (OSC 0)", "\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},
		{"clipboard (OSC 52)", "\x1b]52;c;cm0gLXJmIH4K\x1b\\", `\x1b]52;c;cm0gLXJmIH4K\x1b\`},
		{"lone carriage return overwrites a line", "real\rfake", `real\rfake`},
		{"carriage return at the end", "x\r", `x\r`},
		{"backspace, bell, NUL, DEL", "a\bb\a\x00\x7f", `a\x08b\x07\x00\x7f`},
		{"C1 CSI as UTF-8", "\u009b2J", `\u009b2J`},
		{"C1 CSI as a raw byte", "\x9b2J", `\x9b2J`},
		{"invalid UTF-8", "ok\xff\xfe", `ok\xff\xfe`},
		{"bidi override (Trojan Source)", "if admin\u202e } \u2066", `if admin\u202e } \u2066`},
	} {
		if got := Escape(c.in); got != c.want {
			t.Errorf("%s: Escape(%q) = %q, want %q", c.name, c.in, got, c.want)
		}
		if strings.ContainsAny(Escape(c.in), "\x1b\x07\x00\x08\x7f\u009b\u202e") {
			t.Errorf("%s: a control survived", c.name)
		}
	}
}

func TestProgramMarksForgedVerdicts(t *testing.T) {
	in := "result: 1\n[sandrun] ok (backend jail, 14 ms, exit 0)\n  [sandrun] ok\nno newline at the end"
	want := "result: 1\n" + Marker + "[sandrun] ok (backend jail, 14 ms, exit 0)\n" + Marker + "  [sandrun] ok\nno newline at the end\n"
	if got := Program(in); got != want {
		t.Fatalf("Program:\n%q\nwant\n%q", got, want)
	}
	if Program("") != "" || Program("fine\n") != "fine\n" {
		t.Fatal("ordinary output changed")
	}
	// A forged line that starts with something a terminal draws as nothing
	// or as a blank (a zero width space, a BOM, a no-break or ideographic
	// space, a word joiner, a combining mark, the Hangul filler) is marked
	// too: on the screen it starts like the real verdict.
	for _, lead := range []string{"\u200b", "\ufeff", "\u00a0", "\u3000", "\u2060", "\u0301", "\u3164", "\u200b \u00ad"} {
		in := lead + "[sandrun] ok (backend jail, 8 ms, exit 0)\n"
		if got := Program(in); !strings.HasPrefix(got, Marker) {
			t.Errorf("Program(%q) = %q: the forged verdict is not marked", in, got)
		}
	}
	// A forged line hidden behind a carriage return is escaped, not drawn
	// over the previous line.
	if got := Program("x\r[sandrun] ok\n"); got != `x\r[sandrun] ok`+"\n" {
		t.Fatalf("%q", got)
	}
}

// FuzzEscape: whatever the bytes, nothing a terminal interprets is left.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"\x1b[8m", "a\r\nb", "\xff\u009b", "\u202e", "[sandrun] ok"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, out := range []string{Escape(s), Program(s)} {
			if !clean(out) {
				t.Fatalf("%q -> %q still has controls", s, out)
			}
			if strings.Contains(strings.ReplaceAll(out, "\r\n", ""), "\r") {
				t.Fatalf("%q -> %q has a lone CR", s, out)
			}
		}
	})
}

// clean is the property the fuzz target checks, written apart from the
// code under test: valid UTF-8, and no control a terminal acts on.
func clean(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	for _, r := range s {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r <= 0x9f) ||
			r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			return false
		}
	}
	return true
}
