package sanitize

import (
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"

	toml "github.com/pelletier/go-toml/v2"
	glconfig "github.com/zricethezav/gitleaks/v8/config"
)

// Rule sources, in the order their rules win an overlap.
const (
	SourceCustom   = "custom"   // added by the operator
	SourceSandrun  = "sandrun"  // the seed's categories
	SourceGitleaks = "gitleaks" // gitleaks' default rule set
)

// Rule priorities: when two matches overlap they become one redaction,
// credited to the rule with the highest priority.
const (
	prioGeneric  = 10
	prioGitleaks = 50
	prioSandrun  = 100
	prioCustom   = 110
)

// Default scan window around a keyword hit, snapped outwards to line
// boundaries. gitleaks' keyword-anchored rules allow at most 50 bytes of
// identifier before the keyword and a few hundred after it.
const (
	defaultBefore = 256
	defaultAfter  = 1024
	lineSnapMax   = 2048 // how far a window may grow to reach a line boundary
	toEnd         = -1   // window runs to the end of the text
)

// rule is one detector. Its regexp is compiled on first use: gitleaks'
// 222 expressions cost tens of milliseconds to compile, and most runs
// never contain the keyword that would need one.
type rule struct {
	id, kind, source string
	pattern          string
	secretGroup      int
	entropy          float64
	keywords         []string // lowercased; none means scan the whole text
	path             *regexp.Regexp
	before, after    int
	priority         int
	// check, when set, vets a match (the text and the secret's span).
	check func(text string, start, end int) bool
	// gate, when set, is a cheap necessary condition checked at each
	// keyword hit (pos, keyword length) before the hit opens a window.
	gate func(text string, pos, n int) bool
	// anchor, when set, makes the rule anchored: at each keyword hit it
	// says where a match must start, and the expression (compiled with a
	// leading ^) runs once there on at most after bytes. Anchored rules
	// skip windows entirely.
	anchor                 func(text string, pos int) (start int, ok bool)
	anchored, anchoredPrev *regexp.Regexp
	// gitleaks allowlists, raw until first use.
	rawAllow []rawAllowlist

	once  sync.Once
	re    *regexp.Regexp
	allow []*glconfig.Allowlist
	err   error
}

func (r *rule) compile() error {
	r.once.Do(func() {
		r.re, r.err = regexp.Compile(r.pattern)
		if r.err == nil && r.anchor != nil {
			// Group 1 is the rule's whole match. The "prev" variant also
			// consumes the byte before the start, so \b and friends see
			// the real neighbour.
			r.anchored, r.err = regexp.Compile(`^(` + r.pattern + `)`)
			if r.err == nil {
				r.anchoredPrev, r.err = regexp.Compile(`^(?s:.)(` + r.pattern + `)`)
			}
		}
		if r.err != nil {
			r.err = fmt.Errorf("rule %s: %w", r.id, r.err)
			return
		}
		for _, a := range r.rawAllow {
			al, err := a.build()
			if err != nil {
				r.err = fmt.Errorf("rule %s allowlist: %w", r.id, err)
				return
			}
			r.allow = append(r.allow, al)
		}
	})
	return r.err
}

// RuleInfo describes a rule for listings; it carries no pattern state.
type RuleInfo struct {
	ID       string   `json:"id"`
	Kind     string   `json:"kind"`
	Source   string   `json:"source"`
	Keywords []string `json:"keywords,omitempty"`
}

// kindOf makes the <KIND> of [REDACTED_<KIND>] from a rule id.
func kindOf(id string) string {
	return strings.ToUpper(strings.NewReplacer("-", "_", ".", "_", " ", "_").Replace(id))
}

// gitleaksKinds folds gitleaks rules that cover a seed category into the
// seed's redaction kind, so one secret reads the same whichever rule won.
var gitleaksKinds = map[string]string{
	"private-key":             "PRIVATE_KEY",
	"aws-access-token":        "AWS_KEY",
	"openai-api-key":          "API_KEY",
	"anthropic-api-key":       "API_KEY",
	"anthropic-admin-api-key": "API_KEY",
}

// gitleaksFile mirrors the parts of gitleaks' TOML config that apply to
// text output (commits do not exist here; paths apply to file names).
type gitleaksFile struct {
	Allowlist  rawAllowlist
	Allowlists []rawAllowlist
	Rules      []struct {
		ID          string
		Regex       string
		Path        string
		SecretGroup int
		Entropy     float64
		Keywords    []string
		SkipReport  bool
		Allowlists  []rawAllowlist
	}
}

type rawAllowlist struct {
	Condition   string
	Paths       []string
	Regexes     []string
	RegexTarget string
	StopWords   []string
	Commits     []string
}

// build turns a raw allowlist into gitleaks' own Allowlist type, so the
// regex and stop-word checks are gitleaks' code, not a copy of it.
func (a rawAllowlist) build() (*glconfig.Allowlist, error) {
	al := &glconfig.Allowlist{StopWords: a.StopWords, Commits: a.Commits, RegexTarget: a.RegexTarget}
	switch strings.ToUpper(a.Condition) {
	case "AND", "&&":
		al.MatchCondition = glconfig.AllowlistMatchAnd
	case "", "OR", "||":
		al.MatchCondition = glconfig.AllowlistMatchOr
	default:
		return nil, fmt.Errorf("unknown condition %q", a.Condition)
	}
	if al.RegexTarget == "secret" {
		al.RegexTarget = ""
	}
	for _, p := range a.Regexes {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, err
		}
		al.Regexes = append(al.Regexes, re)
	}
	for _, p := range a.Paths {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, err
		}
		al.Paths = append(al.Paths, re)
	}
	return al, al.Validate()
}

func (a rawAllowlist) empty() bool {
	return len(a.Paths)+len(a.Regexes)+len(a.StopWords)+len(a.Commits) == 0
}

// loadGitleaks decodes the default config embedded in gitleaks' config
// package (config.DefaultConfig, the 222 rules of the pinned version).
// It does not call config.Translate: that compiles all 222 expressions
// eagerly (55-300 ms here), which every `sandrun run` would pay.
// TestGitleaksMatchesTranslate checks this loader against Translate.
func loadGitleaks() ([]*rule, []rawAllowlist, error) {
	var f gitleaksFile
	if err := toml.Unmarshal([]byte(glconfig.DefaultConfig), &f); err != nil {
		return nil, nil, fmt.Errorf("gitleaks default config: %w", err)
	}
	var global []rawAllowlist
	if !f.Allowlist.empty() {
		global = append(global, f.Allowlist)
	}
	global = append(global, f.Allowlists...)
	var rules []*rule
	for _, gr := range f.Rules {
		if gr.Regex == "" || gr.SkipReport {
			continue // path-only rules (pkcs12-file) flag whole binary files
		}
		r := &rule{
			id: gr.ID, source: SourceGitleaks, pattern: gr.Regex,
			secretGroup: gr.SecretGroup, entropy: gr.Entropy,
			before: defaultBefore, after: defaultAfter, priority: prioGitleaks,
			rawAllow: gr.Allowlists,
		}
		r.kind = gitleaksKinds[gr.ID]
		if r.kind == "" {
			r.kind = kindOf(gr.ID)
		}
		switch {
		case strings.Contains(gr.Regex, assignTemplate) && strings.Contains(gr.Regex, `[\w.-]{0,50}?(?:`):
			// The match starts at most 50 identifier bytes before the
			// keyword: anchor at the start of that identifier.
			r.gate, r.anchor = assignGate, backOverCapped(isIdentByte, 50)
		case startsWithKeyword(gr.Regex, r.keywords):
			r.anchor = atHit
		}
		switch gr.ID {
		case "jwt":
			r.gate = jwtGate
		case "generic-api-key":
			r.gate = genericGate
		}
		if strings.HasPrefix(gr.ID, "generic") {
			r.priority = prioGeneric
		}
		if strings.Contains(gr.ID, "private-key") {
			r.after = toEnd // PEM bodies run for kilobytes
		}
		for _, k := range gr.Keywords {
			r.keywords = append(r.keywords, strings.ToLower(k))
		}
		if gr.Path != "" {
			re, err := regexp.Compile(gr.Path)
			if err != nil {
				return nil, nil, fmt.Errorf("gitleaks rule %s path: %w", gr.ID, err)
			}
			r.path = re
		}
		rules = append(rules, r)
	}
	return rules, global, nil
}

// shannonEntropy is gitleaks' measure (bits per byte), used the same way:
// a match whose secret is at or below the rule's entropy is not a secret.
func shannonEntropy(s string) float64 {
	if s == "" {
		return 0
	}
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	n := float64(len(s))
	e := 0.0
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			e -= p * math.Log2(p)
		}
	}
	return e
}

// seedRules are the seed's categories that gitleaks lacks or weakens.
// They are anchored: each match starts at (or just before) a keyword hit,
// so the expression runs once per hit on a few bytes, never on lines.
func seedRules() []*rule {
	r := func(id, kind, pattern string, after int, keywords []string, anchor func(string, int) (int, bool), check func(string, int, int) bool) *rule {
		return &rule{
			id: id, kind: kind, source: SourceSandrun, pattern: pattern, keywords: keywords,
			after: after, priority: prioSandrun, anchor: anchor, check: check,
		}
	}
	anthropic := r("anthropic-key", "API_KEY", `sk-ant-[A-Za-z0-9_-]{20,}`, 4096, []string{"sk-ant-"}, wordStart, nil)
	anthropic.priority++ // an sk-ant- key also matches openai-key's sk- shape
	return []*rule{
		r("connection-string", "CONNECTION_STRING",
			`(?i)(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?)(?:\+[a-z0-9]+)?://[^\s:@/'"\x60]*:[^\s@'"\x60]+@[^\s'"\x60<>]+`,
			4096, []string{"://"}, backOver(isSchemeByte, 32), nil),
		// An unterminated key (output cut by a cap) is redacted to the end.
		r("pem-private-key", "PRIVATE_KEY",
			`-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----|\z)`,
			toEnd, []string{"-----begin"}, atHit, nil),
		anthropic,
		r("openai-key", "API_KEY", `sk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,}`, 4096, []string{"sk-"}, wordStart, nil),
		r("aws-access-key", "AWS_KEY", `(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b`, 32,
			[]string{"akia", "asia", "abia", "acca", "a3t"}, wordStart, nil),
		r("aws-secret-key", "AWS_KEY",
			`(?i)secret_?(?:access_?)?key["'\s]*[:=]\s*["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)`,
			128, []string{"secret"}, atHit, nil),
		r("email", "EMAIL",
			`[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}\b`,
			320, []string{"@"}, backOver(isLocalByte, 64), nil),
		r("private-ipv4", "IP",
			`(?:10(?:\.\d{1,3}){3}|172\.(?:1[6-9]|2\d|3[01])(?:\.\d{1,3}){2}|192\.168(?:\.\d{1,3}){2})\b`,
			16, []string{"10.", "172.", "192.168."}, atHit, checkIPv4),
		r("private-ipv6", "IP", `(?i)f[cd][0-9a-f]{2}:[0-9a-f:]*[0-9a-f]`, 64,
			[]string{"fc", "fd"}, ulaStart, checkIPv6ULA),
		r("system-path", "PATH",
			`(?:/etc|/root|/home/[A-Za-z0-9._-]+)(?:/[^\s'"\x60<>|;:,()\[\]{}]*)?`,
			4096, []string{"/etc", "/root", "/home/"}, atHit, checkPath),
	}
}

// Anchors: where a match may start, given a keyword hit at pos.

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

// startsWithKeyword reports whether every match of pattern begins with one
// of keywords (after empty-width assertions such as \b): such a rule can
// be run anchored at each keyword hit.
func startsWithKeyword(pattern string, keywords []string) bool {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return false
	}
	var starts func(re *syntax.Regexp) bool
	starts = func(re *syntax.Regexp) bool {
		switch re.Op {
		case syntax.OpCapture:
			return starts(re.Sub[0])
		case syntax.OpConcat:
			for _, sub := range re.Sub {
				switch sub.Op {
				case syntax.OpWordBoundary, syntax.OpBeginText, syntax.OpBeginLine, syntax.OpEmptyMatch:
					continue
				}
				return starts(sub)
			}
			return false
		case syntax.OpAlternate:
			for _, sub := range re.Sub {
				if !starts(sub) {
					return false
				}
			}
			return len(re.Sub) > 0
		case syntax.OpLiteral:
			lit := strings.ToLower(string(re.Rune))
			for _, k := range keywords {
				if strings.HasPrefix(lit, k) {
					return true
				}
			}
		}
		return false
	}
	return starts(re)
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
	run := 0
	for i < len(text) && (isWordByte(text[i]) || strings.IndexByte(".=+/-", text[i]) >= 0) {
		run++
		i++
	}
	return run+eq >= 10
}

func isOperator(c byte) bool {
	return c == '=' || c == '>' || c == ':' || c == '|' || c == '?' || c == ','
}

// jwtGate: gitleaks' jwt rule needs "ey", 17 or more alphanumerics, a dot
// and "ey" again; "ey" alone is in half the words of English ("they").
func jwtGate(text string, pos, n int) bool {
	i := pos + n
	for i < len(text) && (isWordByte(text[i]) && text[i] != '_') {
		i++
	}
	return i-(pos+n) >= 17 && i+2 < len(text) && text[i] == '.' && text[i+1] == 'e' && text[i+2] == 'y'
}
