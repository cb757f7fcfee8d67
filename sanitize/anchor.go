package sanitize

// Anchors, gates and checks: the cheap byte-level tests that decide where
// an expression runs, and the vetting of what it matched.

import (
	"net/netip"
	"strings"
)

// Anchors: where a match may start, given a keyword hit at pos.

// litAt anchors at the hit when one of the match's leading literals is
// there, with its case: "sk" in "task" does not open an "SK..." key.
func litAt(lits []leadLit) func(string, int) (int, bool) {
	return func(text string, pos int) (int, bool) { return pos, startsLit(text, pos, lits) }
}

func atHit(_ string, pos int) (int, bool) { return pos, true }

// wordStart: the match starts at the hit, which must begin a word (the
// \b of the usual pattern, checked against the real preceding byte).
func wordStart(text string, pos int) (int, bool) {
	return pos, pos == 0 || !isWordByte(text[pos-1])
}

// backOver: the match starts where a run of in-bytes before the hit
// (e-mail local part, URL scheme) begins; at most limit bytes back.
func backOver(in func(byte) bool, limit int) func(string, int) (int, bool) {
	return func(text string, pos int) (int, bool) {
		i := pos
		for i > 0 && pos-i < limit && in(text[i-1]) {
			i--
		}
		if i == pos || i > 0 && in(text[i-1]) {
			return 0, false // nothing before the hit, or a run too long to be one
		}
		return i, true
	}
}

// backOverCapped is backOver for runs that may be longer than limit: the
// start is then limit bytes back (the pattern allows at most that many).
func backOverCapped(in func(byte) bool, limit int) func(string, int) (int, bool) {
	return func(text string, pos int) (int, bool) {
		i := pos
		for i > 0 && pos-i < limit && in(text[i-1]) {
			i--
		}
		return i, true
	}
}

func isIdentByte(b byte) bool { return isWordByte(b) || b == '.' || b == '-' }

// leadLit is a literal a match starts with; fold means case-insensitive.
type leadLit struct {
	s    string
	fold bool
}

// startsLit is the byte compare: does text at pos start with one of lits?
func startsLit(text string, pos int, lits []leadLit) bool {
	for _, l := range lits {
		if pos+len(l.s) > len(text) {
			continue
		}
		if l.fold && strings.EqualFold(text[pos:pos+len(l.s)], l.s) || text[pos:pos+len(l.s)] == l.s {
			return true
		}
	}
	return false
}

func isSchemeByte(b byte) bool {
	return b == '+' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

func isLocalByte(b byte) bool {
	return isWordByte(b) || b == '.' || b == '%' || b == '+' || b == '-'
}

func isHex(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F'
}

// ulaStart: "fc"/"fd" opens an address only as fcXX: or fdXX: at a word
// start; "fd" alone is everywhere in hex dumps.
func ulaStart(text string, pos int) (int, bool) {
	if pos+4 >= len(text) || text[pos+4] != ':' || !isHex(text[pos+2]) || !isHex(text[pos+3]) {
		return 0, false
	}
	return wordStart(text, pos)
}

func isWordByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// checkIPv4 accepts a private address with valid octets that is not part
// of a longer dotted number (a version string like 1.10.0.0.1).
func checkIPv4(text string, start, end int) bool {
	if start > 0 && (text[start-1] == '.' || isWordByte(text[start-1])) {
		return false
	}
	if end+1 < len(text) && text[end] == '.' && text[end+1] >= '0' && text[end+1] <= '9' {
		return false
	}
	a, err := netip.ParseAddr(text[start:end])
	return err == nil && a.Is4() && a.IsPrivate()
}

// checkIPv6ULA accepts a full, valid address in fc00::/7.
func checkIPv6ULA(text string, start, end int) bool {
	if start > 0 && (text[start-1] == ':' || isWordByte(text[start-1])) {
		return false
	}
	if end < len(text) && (isWordByte(text[end]) || text[end] == ':') {
		return false
	}
	a, err := netip.ParseAddr(text[start:end])
	return err == nil && a.Is6() && a.IsPrivate()
}

// checkPath accepts /etc, /root and /home/<user> only where a path starts
// (not inside /usr/local/etc or a URL) and not as the prefix of another
// word (/etcetera, /rooted).
func checkPath(text string, start, end int) bool {
	if start > 0 {
		switch p := text[start-1]; {
		case isWordByte(p), p == '.', p == '/', p == '-', p == '~':
			return false
		}
	}
	if end < len(text) {
		switch n := text[end]; {
		case isWordByte(n), n == '.', n == '-':
			return false
		}
	}
	return true
}

// assignTemplate is the shape of gitleaks' keyword-assignment rules (96 of
// them, generic-api-key among them): an identifier holding the keyword,
// then an assignment operator within a few bytes, then the secret.
const assignTemplate = `(?:[ \t\w.-]{0,20})[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)`

// assignGate is assignTemplate's necessary condition at a keyword hit: an
// assignment operator follows the keyword after at most some identifier
// bytes and three spaces or quotes. The 64-byte allowance covers the 20
// of the template plus the part of a keyword alternative longer than the
// matched keyword. Without it, every "key" in prose ("monkey", "keys")
// would run the most expensive expression of the set on its line.
func assignGate(text string, pos, n int) bool {
	i := pos + n
	for lim := min(i+64, len(text)); i < lim; i++ {
		c := text[i]
		if !(isWordByte(c) || c == ' ' || c == '\t' || c == '.' || c == '-') {
			break
		}
	}
	for j := 0; j < 3 && i < len(text); j++ {
		switch text[i] {
		case ' ', '\t', '\n', '\r', '\f', '\v', '\'', '"':
			i++
			continue
		}
		break
	}
	if i >= len(text) {
		return false
	}
	switch text[i] {
	case '=', '>', ':', '|', '?', ',':
		return true
	}
	return false
}

// genericGate adds generic-api-key's own necessary condition to
// assignGate: after the operator (and its quotes, spaces and extra
// operator bytes) come at least 10 bytes that can form its secret.
func genericGate(text string, pos, n int) bool {
	if !assignGate(text, pos, n) {
		return false
	}
	i := pos + n
	for i < len(text) && !isOperator(text[i]) {
		i++
	}
	i++
	eq := 0
	for lim := min(i+8, len(text)); i < lim; i++ {
		c := text[i]
		if c == '=' {
			eq++
		} else if !(c == '`' || c == '\'' || c == '"' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':' || c == '|' || c == '>' || c == '?') {
			break
		}
	}
	run := eq
	for ; run < 10 && i < len(text) && (isWordByte(text[i]) || strings.IndexByte(".=+/-", text[i]) >= 0); i++ {
		run++
	}
	return run >= 10 // bounded: a gate must not scan a long run per hit
}

func isOperator(c byte) bool {
	return c == '=' || c == '>' || c == ':' || c == '|' || c == '?' || c == ','
}

// jwtGate: gitleaks' jwt rule needs "ey", 17 or more alphanumerics, a dot
// and "ey" again; "ey" alone is in half the words of English ("they").
func jwtGate(text string, pos, n int) bool {
	i := pos + n
	for i < len(text) && i-(pos+n) < 17 && isWordByte(text[i]) && text[i] != '_' {
		i++
	}
	if i-(pos+n) < 17 {
		return false
	}
	// The rest of the alphanumeric run and ".ey" follow. Look at most 512
	// bytes ahead (a bounded scan per hit); past that, let the regexp say.
	lim := min(len(text), i+512)
	for i < lim && isWordByte(text[i]) && text[i] != '_' {
		i++
	}
	if i == lim {
		return true
	}
	return i+2 < len(text) && text[i] == '.' && text[i+1] == 'e' && text[i+2] == 'y'
}
