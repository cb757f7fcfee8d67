package sanitize

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// The direct scan (short texts) and the automaton report the same hits
// in the same order (find depends on the order: windows merge as hits
// arrive), for the sanitizer's own keywords and for sets with overlaps,
// suffixes and case variants of one keyword.
func TestKeywordScansAgree(t *testing.T) {
	s, err := New(Options{Rules: []CustomRule{{ID: "x", Regex: `x-[0-9]+`, Keywords: []string{"X-", "Ab", "aB"}}}})
	if err != nil {
		t.Fatal(err)
	}
	sets := [][]string{
		s.kw.keywords,
		{"key", "api", "ey", "s.", "sk-", "sk-ant-", "-----begin", "a", "AbC", "abc", "192.168.", "", "\xffx"},
	}
	r := rand.New(rand.NewPCG(3, 4))
	type hit struct{ id, pos int }
	for si, kws := range sets {
		// Text made of the keywords' own bytes (both cases), keywords
		// whole, and noise, so that hits, near misses and overlaps are
		// frequent.
		var alpha []byte
		for _, k := range kws {
			alpha = append(alpha, strings.ToUpper(k)...)
			alpha = append(alpha, k...)
		}
		alpha = append(alpha, " \n\x00\xff=:"...)
		m := newKeywordMatcher(kws)
		dfa := newKeywordDFA(kws)
		for n := 0; n < 400; n++ {
			var b strings.Builder
			size := r.IntN(3000)
			for b.Len() < size {
				if r.IntN(8) == 0 {
					b.WriteString(kws[r.IntN(len(kws))])
				} else {
					b.WriteByte(alpha[r.IntN(len(alpha))])
				}
			}
			text := b.String()
			var direct, auto []hit
			m.scanDirect(text, func(id, pos int) { direct = append(direct, hit{id, pos}) })
			dfa.scan(text, func(id, pos int) { auto = append(auto, hit{id, pos}) })
			if !slices.Equal(direct, auto) {
				t.Fatalf("set %d, text %q:\ndirect %v\nautomaton %v", si, text, direct, auto)
			}
		}
	}
}

// scan takes the automaton for long texts, and keeps it once built.
func TestKeywordScanChoosesAutomaton(t *testing.T) {
	m := newKeywordMatcher([]string{"key"})
	m.scan(strings.Repeat("k", directMax), func(int, int) {})
	if m.dfa.Load() != nil {
		t.Fatal("a short text built the automaton")
	}
	n := 0
	m.scan(strings.Repeat("x", directMax)+"key", func(int, int) { n++ })
	if m.dfa.Load() == nil || n != 1 {
		t.Fatalf("a long text: automaton %v, %d hits", m.dfa.Load() != nil, n)
	}
	n = 0
	m.scan("key", func(int, int) { n++ })
	if n != 1 {
		t.Fatalf("%d hits after the build", n)
	}
}
