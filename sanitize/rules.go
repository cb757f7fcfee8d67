package sanitize

import (
	"fmt"
	"math"
	"regexp"
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
		for _, k := range gr.Keywords {
			r.keywords = append(r.keywords, strings.ToLower(k))
		}
		switch {
		case strings.Contains(gr.Regex, assignTemplate) && strings.Contains(gr.Regex, `[\w.-]{0,50}?(?:`):
			// The match starts at most 50 identifier bytes before the
			// keyword: anchor at the start of that identifier.
			r.gate, r.anchor = assignGate, backOverCapped(isIdentByte, 50)
		default:
			if ok, lits := startsWithKeyword(gr.Regex, r.keywords); ok {
				r.anchor = litAt(lits)
			}
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
