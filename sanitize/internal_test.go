package sanitize

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/viper"
	glconfig "github.com/zricethezav/gitleaks/v8/config"
)

// Our lazy loader must produce exactly the rules gitleaks' own Translate
// produces from the same embedded config.
func TestGitleaksMatchesTranslate(t *testing.T) {
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(glconfig.DefaultConfig)); err != nil {
		t.Fatal(err)
	}
	var vc glconfig.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		t.Fatal(err)
	}
	cfg, err := vc.Translate()
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Rules) != 222 {
		t.Errorf("gitleaks has %d rules, the brief expects 222", len(cfg.Rules))
	}
	ours, global, err := loadGitleaks()
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*rule{}
	for _, r := range ours {
		byID[r.id] = r
	}
	for id, g := range cfg.Rules {
		r := byID[id]
		if r == nil {
			if g.Regex != nil {
				t.Errorf("rule %s with a regex is missing", id)
			}
			continue
		}
		if g.Regex.String() != r.pattern || g.SecretGroup != r.secretGroup || g.Entropy != r.entropy ||
			!slices.Equal(g.Keywords, r.keywords) || len(g.Allowlists) != len(r.rawAllow) {
			t.Errorf("rule %s differs from gitleaks' Translate", id)
		}
		if (g.Path == nil) != (r.path == nil) {
			t.Errorf("rule %s path differs", id)
		}
		if err := r.compile(); err != nil {
			t.Errorf("rule %s: %v", id, err)
		}
		for i, a := range r.allow {
			ga := g.Allowlists[i]
			if len(a.Regexes) != len(ga.Regexes) || len(a.StopWords) != len(ga.StopWords) || a.RegexTarget != ga.RegexTarget || a.MatchCondition != ga.MatchCondition {
				t.Errorf("rule %s allowlist %d differs", id, i)
			}
		}
	}
	if len(global) != len(cfg.Allowlists) {
		t.Errorf("global allowlists: %d, gitleaks %d", len(global), len(cfg.Allowlists))
	}
	for _, r := range seedRules() {
		if err := r.compile(); err != nil {
			t.Error(err)
		}
		if _, clash := cfg.Rules[r.id]; clash {
			t.Errorf("seed rule id %s clashes with a gitleaks rule", r.id)
		}
	}
}

func TestKeywordMatcherAgainstNaive(t *testing.T) {
	kws := []string{"key", "api", "ey", "s.", "sk-", "sk-ant-", "-----begin", "a", "AbC", "192.168."}
	m := newKeywordMatcher(kws)
	r := rand.New(rand.NewPCG(1, 2))
	alpha := "aAbBcCeEyYkKsS.-19268 \n-----BEGINpPiI"
	for n := 0; n < 300; n++ {
		b := make([]byte, r.IntN(200))
		for i := range b {
			b[i] = alpha[r.IntN(len(alpha))]
		}
		text := string(b)
		type hit struct{ id, pos int }
		var got, want []hit
		m.scan(text, func(id, pos int) { got = append(got, hit{id, pos}) })
		low := strings.ToLower(text)
		for id, k := range kws {
			k = strings.ToLower(k)
			for i := 0; i+len(k) <= len(low); i++ {
				if low[i:i+len(k)] == k {
					want = append(want, hit{id, i})
				}
			}
		}
		less := func(a, b hit) int {
			if a.pos != b.pos {
				return a.pos - b.pos
			}
			return a.id - b.id
		}
		slices.SortFunc(got, less)
		slices.SortFunc(want, less)
		if !slices.Equal(got, want) {
			t.Fatalf("%q: got %v want %v", text, got, want)
		}
	}
}

func TestShannonEntropy(t *testing.T) {
	if e := shannonEntropy("aaaa"); e != 0 {
		t.Error(e)
	}
	if e := shannonEntropy("abcd"); e != 2 {
		t.Error(e)
	}
}
