// Package sanitize scrubs secrets, internal addresses and system paths
// from program output before anyone sees it. Its rules are gitleaks'
// default rule set (github.com/zricethezav/gitleaks/v8, 222 rules) plus
// the seed's categories that gitleaks lacks or weakens: e-mail addresses,
// private IPv4 and IPv6 unique-local addresses, system paths, connection
// strings with credentials, PEM private keys, OpenAI, Anthropic and AWS
// keys. A match is replaced by [REDACTED_<KIND>]; a detection records the
// rule, the stream and a count, never the secret.
//
// Speed comes from keywords: every rule names the words that must appear
// near a match (gitleaks rules carry them; ours do too). One pass of a
// case-insensitive Aho-Corasick automaton finds every keyword, and a
// rule's regular expression runs only on the lines around its keywords.
package sanitize

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	glconfig "github.com/zricethezav/gitleaks/v8/config"

	"github.com/sandrun/sandrun"
)

// Options configure a Sanitizer. The zero value turns every rule on.
type Options struct {
	// Disable lists rule ids to turn off (see Rules for the ids).
	Disable []string `json:"disable,omitempty"`
	// Rules are added to the built-in ones.
	Rules []CustomRule `json:"rules,omitempty"`
	// Allow lists exact values that are never redacted (a public contact
	// address, a documented test key).
	Allow []string `json:"allow,omitempty"`
}

// CustomRule is an operator's rule: a regular expression (Go syntax) with
// a name.
type CustomRule struct {
	// ID names the rule in detections; it must not clash with another rule.
	ID string `json:"id"`
	// Regex finds the secret; with capture groups, the first non-empty
	// group (or SecretGroup) is what gets redacted.
	Regex       string `json:"regex"`
	SecretGroup int    `json:"secret_group,omitempty"`
	// Kind is the <KIND> in [REDACTED_<KIND>]; default: the id in capitals.
	Kind string `json:"kind,omitempty"`
	// Keywords (case-insensitive) gate the rule: it runs only near one.
	// Without keywords the regex's literal prefix is used when it has one,
	// else the rule scans all the text (slower).
	Keywords []string `json:"keywords,omitempty"`
}

// Sanitizer holds the compiled rule set. It is safe for concurrent use.
type Sanitizer struct {
	rules   []*rule
	whole   []*rule // rules without keywords: scan the whole text
	kw      *keywordMatcher
	kwRules [][]int // keyword id -> rule indexes
	// globalAllow is gitleaks' global allowlist, built on first use: only
	// a candidate secret needs it, and building it compiles expressions.
	globalAllow func() []*glconfig.Allowlist
	allowValues map[string]bool
	// budgetRule credits text redacted unscanned when find's work budget
	// runs out.
	budgetRule *rule
}

var _ sandrun.Sanitizer = (*Sanitizer)(nil)

// New builds a Sanitizer with gitleaks' rules, the seed's rules and
// opts applied. An unknown id in Disable or a bad custom rule is an error
// naming it: a typo must not silently leave a rule on or off.
func New(opts Options) (*Sanitizer, error) {
	gl, global, err := loadGitleaks()
	if err != nil {
		return nil, err
	}
	all := append(seedRules(), gl...)
	byID := map[string]*rule{}
	for _, r := range all {
		byID[r.id] = r
	}
	var errs []error
	for i, c := range opts.Rules {
		r, err := customRule(c)
		if err != nil {
			errs = append(errs, fmt.Errorf("sanitize: rules[%d]: %w", i, err))
			continue
		}
		if _, dup := byID[r.id]; dup {
			errs = append(errs, fmt.Errorf("sanitize: rules[%d]: id %q is already taken", i, r.id))
			continue
		}
		byID[r.id] = r
		all = append(all, r)
	}
	off := map[string]bool{}
	for _, id := range opts.Disable {
		if _, ok := byID[id]; !ok {
			errs = append(errs, fmt.Errorf("sanitize: disable: unknown rule %q", id))
		}
		off[id] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &Sanitizer{allowValues: map[string]bool{}, budgetRule: &rule{
		id: "scan-budget", kind: "UNSCANNED", source: SourceSandrun, priority: 1000,
	}}
	for _, v := range opts.Allow {
		s.allowValues[v] = true
	}
	s.globalAllow = sync.OnceValue(func() []*glconfig.Allowlist {
		var out []*glconfig.Allowlist
		for _, a := range global {
			// The table is generated and tested (TestGitleaksGlobalAllowlistBuilds
			// builds every one); should one not build, the candidates
			// it would have allowed stay redacted (fail closed).
			if al, err := a.build(); err == nil {
				out = append(out, al)
			}
		}
		return out
	})
	var keywords []string
	kwID := map[string]int{}
	for _, r := range all {
		if off[r.id] {
			continue
		}
		idx := len(s.rules)
		s.rules = append(s.rules, r)
		if len(r.keywords) == 0 {
			s.whole = append(s.whole, r)
			continue
		}
		for _, k := range r.keywords {
			id, ok := kwID[k]
			if !ok {
				id = len(keywords)
				kwID[k] = id
				keywords = append(keywords, k)
				s.kwRules = append(s.kwRules, nil)
			}
			s.kwRules[id] = append(s.kwRules[id], idx)
		}
	}
	s.kw = newKeywordMatcher(keywords)
	return s, nil
}

func customRule(c CustomRule) (*rule, error) {
	if strings.TrimSpace(c.ID) == "" {
		return nil, errors.New("id is required")
	}
	re, err := regexp.Compile(c.Regex)
	if err != nil {
		return nil, fmt.Errorf("%s: regex: %w", c.ID, err)
	}
	if c.Regex == "" || re.MatchString("") {
		return nil, fmt.Errorf("%s: regex matches the empty string", c.ID)
	}
	if c.SecretGroup < 0 || c.SecretGroup > re.NumSubexp() {
		return nil, fmt.Errorf("%s: secret_group %d: the regex has %d groups", c.ID, c.SecretGroup, re.NumSubexp())
	}
	r := &rule{
		id: c.ID, kind: c.Kind, source: SourceCustom, pattern: c.Regex, secretGroup: c.SecretGroup,
		before: defaultBefore, after: defaultAfter, priority: prioCustom,
	}
	if r.kind == "" {
		r.kind = kindOf(c.ID)
	}
	for _, k := range c.Keywords {
		if k = strings.ToLower(k); k != "" {
			r.keywords = append(r.keywords, k)
		}
	}
	if len(r.keywords) == 0 {
		// A literal prefix is a keyword the regex itself guarantees (the
		// automaton ignores case, which only widens the gate).
		if p, _ := re.LiteralPrefix(); len(p) >= 2 {
			r.keywords = []string{strings.ToLower(p)}
		}
	}
	return r, nil
}

// Rules lists the active rules in priority order of their source.
func (s *Sanitizer) Rules() []RuleInfo {
	out := make([]RuleInfo, 0, len(s.rules))
	for _, r := range s.rules {
		// A copy: gitleaks rules share their keywords with the static table.
		out = append(out, RuleInfo{ID: r.id, Kind: r.kind, Source: r.source, Keywords: slices.Clone(r.keywords)})
	}
	return out
}

// anchoredCut bounds the input of an anchored expression (see find).
const anchoredCut = 320

// span is one redaction candidate or, after merging, one redaction.
type span struct {
	start, end int
	rule       *rule
	ms, me     int // the rule's whole match, for gitleaks' allowlists
}

// find returns the redactions for text, sorted and non-overlapping.
// file is the file name for gitleaks' path-scoped rules ("" for streams).
func (s *Sanitizer) find(text, file string) []span {
	if text == "" {
		return nil
	}
	// Windows per rule, from keyword hits, merged as they come (hits
	// arrive in increasing order of their end).
	type window struct{ start, end int }
	wins := make([][]window, len(s.rules))
	var cands []span
	anchoredEnd := make([]int, len(s.rules)) // end of the last anchored match per rule
	// Work budget, in expression runs (a window costs one per 256 bytes):
	// output built to be slow to scan ("key=key=key=...") must not hold
	// the supervisor for minutes. Realistic output uses well under a
	// tenth of it; when it runs out, the rest of the text is redacted
	// unscanned (fail closed).
	budget := len(text)/16 + 4096
	over := -1
	s.kw.scan(text, func(id, pos int) {
		if over >= 0 {
			return
		}
		for _, ri := range s.kwRules[id] {
			r := s.rules[ri]
			if r.gate != nil && !r.gate(text, pos, s.kw.lengths[id]) {
				continue
			}
			if r.anchor != nil {
				st, ok := r.anchor(text, pos)
				if !ok || st < anchoredEnd[ri] || r.compile() != nil {
					continue
				}
				if budget--; budget < 0 {
					over = pos
					return
				}
				off, re := st, r.anchored
				if st > 0 {
					off, re = st-1, r.anchoredPrev
				}
				// A short input lets Go's regexp use its backtracker
				// instead of the much slower NFA; a match that reaches
				// the cut is run again on the whole rest of the text.
				end := len(text)
				if r.after != toEnd {
					end = min(end, st+anchoredCut)
				}
				m := re.FindStringSubmatchIndex(text[off:end])
				if m != nil && m[1] == end-off && end < len(text) {
					m = re.FindStringSubmatchIndex(text[off:])
				}
				if m != nil {
					m = m[2:] // group 1 is the rule's own match
					anchoredEnd[ri] = off + m[1]
					cands = s.accept(cands, r, text, off, m, file)
				}
				continue
			}
			ws := max(pos-r.before, 0)
			we := len(text)
			if r.after != toEnd {
				we = min(pos+r.after, len(text))
			}
			w := wins[ri]
			if n := len(w); n > 0 && ws <= w[n-1].end {
				w[n-1].end = max(w[n-1].end, we)
				continue
			}
			wins[ri] = append(w, window{ws, we})
		}
	})
	for ri, ws := range wins {
		if len(ws) == 0 {
			continue
		}
		r := s.rules[ri]
		if r.path != nil && (file == "" || !r.path.MatchString(file)) {
			continue
		}
		if r.compile() != nil {
			continue // built-in patterns are compiled by a test; custom ones by New
		}
		// Snap to line boundaries and merge windows that now touch.
		last := -1
		for _, w := range ws {
			a, b := lineStart(text, w.start), lineEnd(text, w.end)
			if last >= 0 && a <= last {
				a = last
			}
			if a >= b {
				continue
			}
			if budget -= (b-a)/256 + 1; budget < 0 {
				if over < 0 || a < over {
					over = a
				}
				break
			}
			cands = s.match(cands, r, text, a, b, file)
			last = b
		}
	}
	for _, r := range s.whole {
		if r.path != nil && (file == "" || !r.path.MatchString(file)) {
			continue
		}
		if r.compile() == nil {
			cands = s.match(cands, r, text, 0, len(text), file)
		}
	}
	if over >= 0 {
		cands = append(cands, span{start: lineStart(text, over), end: len(text), rule: s.budgetRule})
	}
	return merge(s.vet(cands, text, file))
}

// vet applies gitleaks' allowlists, which cost more than the rest of the
// scan (the generic rule's allowlist alone is a 1,446-word list plus a
// large expression). Candidates are taken in tiers of priority: ours
// (never allowlisted), gitleaks' specific rules, then the generic ones; a
// candidate inside an already accepted one is dropped unchecked, since
// that one redacts it anyway.
func (s *Sanitizer) vet(c []span, text, file string) []span {
	byStart := func(a []span) {
		sort.Slice(a, func(i, j int) bool {
			if a[i].start != a[j].start {
				return a[i].start < a[j].start
			}
			return a[i].end > a[j].end
		})
	}
	tier := func(sp span) int {
		switch {
		case sp.rule.source != SourceGitleaks:
			return 0
		case sp.rule.priority > prioGeneric:
			return 1
		}
		return 2
	}
	var acc []span
	for t := 0; t < 3; t++ {
		byStart(acc)
		prefEnd := make([]int, len(acc))
		for i, a := range acc {
			prefEnd[i] = a.end
			if i > 0 {
				prefEnd[i] = max(prefEnd[i], prefEnd[i-1])
			}
		}
		prev := acc // accepted by the tiers above; this tier appends
		covered := func(x span) bool {
			i := sort.Search(len(prev), func(i int) bool { return prev[i].start > x.start }) - 1
			return i >= 0 && prefEnd[i] >= x.end
		}
		for _, x := range c {
			if tier(x) != t || covered(x) {
				continue
			}
			if t > 0 {
				secret, match := text[x.start:x.end], text[x.ms:x.me]
				line := text[lineStart(text, x.ms):lineEnd(text, x.me)]
				if allowed(s.globalAllow(), secret, match, line, file) || allowed(x.rule.allow, secret, match, line, file) {
					continue
				}
			}
			acc = append(acc, x)
		}
	}
	return acc
}

func lineStart(text string, i int) int {
	lo := max(i-lineSnapMax, 0)
	if j := strings.LastIndexByte(text[lo:i], '\n'); j >= 0 {
		return lo + j + 1
	}
	return lo
}

func lineEnd(text string, i int) int {
	if i >= len(text) {
		return len(text)
	}
	hi := min(i+lineSnapMax, len(text))
	if j := strings.IndexByte(text[i:hi], '\n'); j >= 0 {
		return i + j + 1
	}
	return hi
}

// match runs r on text[a:b] and appends the accepted secrets' spans.
func (s *Sanitizer) match(out []span, r *rule, text string, a, b int, file string) []span {
	for _, m := range r.re.FindAllStringSubmatchIndex(text[a:b], -1) {
		out = s.accept(out, r, text, a, m, file)
	}
	return out
}

// accept vets one match (submatch indexes m, relative to offset a) the
// way gitleaks does (secret group, entropy, allowlists) plus our own
// checks and the operator's allowed values.
func (s *Sanitizer) accept(out []span, r *rule, text string, a int, m []int, file string) []span {
	{
		ms, me := a+m[0], a+m[1]
		// gitleaks trims newlines off the match (gitleaks#1352).
		for me > ms && text[me-1] == '\n' {
			me--
		}
		ss, se := ms, me
		if len(m) > 2 {
			if g := r.secretGroup; g > 0 && 2*g+1 < len(m) {
				if m[2*g] >= 0 {
					ss, se = a+m[2*g], a+m[2*g+1]
				}
			} else {
				for g := 1; 2*g+1 < len(m); g++ {
					if m[2*g] >= 0 && m[2*g+1] > m[2*g] {
						ss, se = a+m[2*g], a+m[2*g+1]
						break
					}
				}
			}
		}
		if se <= ss {
			return out
		}
		secret := text[ss:se]
		if s.allowValues[secret] || s.allowValues[text[ms:me]] {
			return out
		}
		if r.entropy != 0 && shannonEntropy(secret) <= r.entropy {
			return out
		}
		if r.check != nil && !r.check(text, ss, se) {
			return out
		}
		// gitleaks' allowlists are checked later, and only for matches
		// that no rule of ours covers (see vet): they cost more than the
		// rest of the scan.
		out = append(out, span{ss, se, r, ms, me})
	}
	return out
}

// allowed is gitleaks' checkFindingAllowed (detect/detect.go) for output
// text: there are no commits, and the path is the output file's name.
func allowed(lists []*glconfig.Allowlist, secret, match, line, file string) bool {
	for _, a := range lists {
		target := secret
		switch a.RegexTarget {
		case "match":
			target = match
		case "line":
			target = line
		}
		stopOK, _ := a.ContainsStopWord(secret)
		regexOK := false
		if !stopOK || a.MatchCondition == glconfig.AllowlistMatchAnd {
			regexOK = anyMatch(a.Regexes, target)
		}
		if a.MatchCondition == glconfig.AllowlistMatchAnd {
			ok := true
			if len(a.Commits) > 0 {
				ok = false
			}
			if len(a.Paths) > 0 && !a.PathAllowed(file) {
				ok = false
			}
			if len(a.Regexes) > 0 && !regexOK {
				ok = false
			}
			if len(a.StopWords) > 0 && !stopOK {
				ok = false
			}
			if ok {
				return true
			}
		} else if regexOK || stopOK {
			return true
		}
	}
	return false
}

// anyMatch is Allowlist.RegexAllowed without the joined expression
// gitleaks builds: its unanchored alternatives ("false", "null$") make
// the joined form scan the whole target with the slowest matcher, while
// most single expressions are anchored and fail at the first byte.
func anyMatch(res []*regexp.Regexp, target string) bool {
	if target == "" {
		return false
	}
	for _, re := range res {
		if re.MatchString(target) {
			return true
		}
	}
	return false
}

// merge sorts candidates and folds overlapping ones into one redaction,
// credited to the highest-priority rule (then the longest match).
func merge(c []span) []span {
	if len(c) == 0 {
		return nil
	}
	sort.Slice(c, func(i, j int) bool {
		if c[i].start != c[j].start {
			return c[i].start < c[j].start
		}
		return c[i].end > c[j].end
	})
	out := []span{c[0]}
	best := c[0]
	for _, x := range c[1:] {
		cur := &out[len(out)-1]
		if x.start < cur.end {
			cur.end = max(cur.end, x.end)
			if x.rule.priority > best.rule.priority ||
				x.rule.priority == best.rule.priority && x.end-x.start > best.end-best.start {
				best = x
			}
			cur.rule = best.rule
			continue
		}
		out = append(out, x)
		best = x
	}
	return out
}

// redact replaces spans in text and counts them per rule.
func redact(text string, spans []span, count func(rule string)) string {
	if len(spans) == 0 {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	prev := 0
	for _, sp := range spans {
		b.WriteString(text[prev:sp.start])
		b.WriteString("[REDACTED_")
		b.WriteString(sp.rule.kind)
		b.WriteString("]")
		prev = sp.end
		count(sp.rule.id)
	}
	b.WriteString(text[prev:])
	return b.String()
}

// Sanitize scrubs one text and returns it with its detections, all
// attributed to stream.
func (s *Sanitizer) Sanitize(stream, text string) (string, []sandrun.Detection) {
	var c counter
	out := redact(text, s.find(text, ""), func(r string) { c.add(r, stream) })
	return out, c.list()
}
