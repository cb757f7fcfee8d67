package sanitize

import (
	"slices"
	"sync"
	"sync/atomic"
)

// keywordMatcher finds every occurrence of a set of ASCII keywords in a
// text, ignoring ASCII case. Two ways, with the same hits in the same
// order: the automaton (keywordDFA), built the first time a text needs
// it, and for short texts a direct compare at each byte against the
// keywords that end with it. A one-shot `sandrun run` scrubs a few bytes
// of output once: building the automaton for that cost it more than the
// scan (0.15 ms of CPU and 250 KB of tables for 231 rules' keywords).
type keywordMatcher struct {
	keywords []string
	lengths  []int // keyword id -> length in bytes
	// byLast lists, per folded byte, the keywords ending with it, longest
	// first (the automaton's order for hits that end at the same byte).
	byLast [256][]int32
	once   sync.Once
	dfa    atomic.Pointer[keywordDFA]
}

// directMax is the longest text scanned without the automaton (unless it
// is built already): up to here the direct scan costs less than the
// build, and it never costs more than a few tens of microseconds.
const directMax = 1024

// newKeywordMatcher indexes keywords; keyword ids are their indexes.
// Empty keywords are ignored.
func newKeywordMatcher(keywords []string) *keywordMatcher {
	m := &keywordMatcher{keywords: keywords, lengths: make([]int, len(keywords))}
	for id, k := range keywords {
		m.lengths[id] = len(k)
		if k == "" {
			continue
		}
		last := fold(k[len(k)-1])
		m.byLast[last] = append(m.byLast[last], int32(id))
	}
	for b := range m.byLast {
		// Longest first; equal lengths (the same keyword twice, folded)
		// in id order, as the automaton reports them.
		slices.SortStableFunc(m.byLast[b], func(x, y int32) int { return len(keywords[y]) - len(keywords[x]) })
	}
	return m
}

// scan calls hit(id, start) for every keyword occurrence, in text order
// of the keyword's end (longest first among those ending together).
func (m *keywordMatcher) scan(text string, hit func(id, start int)) {
	if d := m.dfa.Load(); d != nil || len(text) > directMax {
		if d == nil {
			m.once.Do(func() { m.dfa.Store(newKeywordDFA(m.keywords)) })
			d = m.dfa.Load()
		}
		d.scan(text, hit)
		return
	}
	m.scanDirect(text, hit)
}

// scanDirect is scan without the automaton.
func (m *keywordMatcher) scanDirect(text string, hit func(id, start int)) {
	for i := 0; i < len(text); i++ {
		for _, id := range m.byLast[fold(text[i])] {
			k := m.keywords[id]
			start := i + 1 - len(k)
			if start >= 0 && equalFold(text[start:i+1], k) {
				hit(int(id), start)
			}
		}
	}
}

// equalFold compares bytes as the automaton does: ASCII letters without
// case, every other byte exactly.
func equalFold(a, b string) bool {
	for i := 0; i < len(a); i++ {
		if fold(a[i]) != fold(b[i]) {
			return false
		}
	}
	return true
}

// keywordDFA is an Aho-Corasick automaton compiled to a full DFA over
// byte classes: the scan loop is one table load per input byte, with no
// lowercased copy of the text.
//
// Why not github.com/BobuSumisu/aho-corasick (the one gitleaks uses): it is
// case-sensitive, so it needs a lowercased copy of the whole text, and it
// allocates a *Match per hit; on keyword-dense output those two costs were
// most of the 5 ms/MiB budget.
type keywordDFA struct {
	class  [256]uint32 // input byte -> byte class (ASCII case folded)
	nclass int
	// delta[row+class] is the next state's row (state id * nclass): the
	// multiply is done at build time. States are numbered so that those
	// ending a keyword come last: one compare per byte says "hit".
	delta    []uint32
	outStart uint32  // first row of a state with outputs
	outs     [][]int // row/nclass -> keyword ids that end here (suffix closure)
	lengths  []int   // keyword id -> length in bytes
}

func fold(b byte) byte {
	if b >= 'A' && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// newKeywordDFA compiles keywords; keyword ids are their indexes. Empty
// keywords are ignored.
func newKeywordDFA(keywords []string) *keywordDFA {
	m := &keywordDFA{lengths: make([]int, len(keywords))}
	// Byte classes: every distinct folded byte used by a keyword gets its
	// own class; every other byte shares class 0.
	m.nclass = 1
	for _, k := range keywords {
		for i := 0; i < len(k); i++ {
			c := fold(k[i])
			if m.class[c] == 0 {
				m.class[c] = uint32(m.nclass)
				m.nclass++
			}
		}
	}
	for b := 'A'; b <= 'Z'; b++ {
		m.class[b] = m.class[b+'a'-'A']
	}
	// The trie, as first-child/next-sibling lists (state 0 is the root).
	type node struct {
		class        uint32
		child, next  int32 // 0: none (the root is nobody's child or sibling)
		out          []int // keyword ids that end exactly here
		fail, newRow uint32
	}
	nodes := make([]node, 1, 1+len(keywords)*8)
	childOf := func(s int32, c uint32) int32 {
		for n := nodes[s].child; n != 0; n = nodes[n].next {
			if nodes[n].class == c {
				return n
			}
		}
		return 0
	}
	for id, k := range keywords {
		m.lengths[id] = len(k)
		if k == "" {
			continue
		}
		s := int32(0)
		for i := 0; i < len(k); i++ {
			c := m.class[k[i]]
			n := childOf(s, c)
			if n == 0 {
				n = int32(len(nodes))
				nodes = append(nodes, node{class: c, next: nodes[s].child})
				nodes[s].child = n
			}
			s = n
		}
		nodes[s].out = append(nodes[s].out, id)
	}
	// Breadth-first failure links and output sets (a state's outputs are
	// its own, then its failure state's: the suffix closure).
	nstates := len(nodes)
	order := make([]int32, 0, nstates) // breadth-first
	outs := make([][]int, nstates)
	outs[0] = nodes[0].out
	for n := nodes[0].child; n != 0; n = nodes[n].next {
		order = append(order, n)
	}
	for qi := 0; qi < len(order); qi++ {
		s := order[qi]
		f := outs[nodes[s].fail]
		if len(f) == 0 {
			outs[s] = nodes[s].out
		} else {
			outs[s] = append(append(make([]int, 0, len(nodes[s].out)+len(f)), nodes[s].out...), f...)
		}
		for n := nodes[s].child; n != 0; n = nodes[n].next {
			// The failure of s's child on c is where s's failure goes on c.
			f := int32(nodes[s].fail)
			for f != 0 && childOf(f, nodes[n].class) == 0 {
				f = int32(nodes[f].fail)
			}
			if g := childOf(f, nodes[n].class); g != 0 && g != n {
				nodes[n].fail = uint32(g)
			}
			order = append(order, n)
		}
	}
	// Numbering: states without outputs first (the root stays 0), so that
	// one compare per byte says "hit"; rows are premultiplied by nc.
	nc := uint32(m.nclass)
	next := uint32(0)
	m.outs = make([][]int, nstates)
	for pass := 0; pass < 2; pass++ {
		for s := range nstates {
			if (len(outs[s]) > 0) == (pass == 1) {
				nodes[s].newRow = next * nc
				m.outs[next] = outs[s]
				next++
			}
		}
		if pass == 0 {
			m.outStart = next * nc
		}
	}
	// The DFA, rows filled breadth-first: a missing child takes the
	// (shallower, finished) failure state's transition.
	m.delta = make([]uint32, nstates*int(nc))
	fill := func(s int32) {
		row, frow := nodes[s].newRow, nodes[nodes[s].fail].newRow
		if s != 0 {
			copy(m.delta[row:row+nc], m.delta[frow:frow+nc])
		}
		for n := nodes[s].child; n != 0; n = nodes[n].next {
			m.delta[row+nodes[n].class] = nodes[n].newRow
		}
	}
	fill(0)
	for _, s := range order {
		fill(s)
	}
	return m
}

// scan calls hit(id, start) for every keyword occurrence, in text order
// of the keyword's end.
func (m *keywordDFA) scan(text string, hit func(id, start int)) {
	delta, class, outStart := m.delta, &m.class, m.outStart
	nc := uint32(m.nclass)
	row := uint32(0)
	for i := 0; i < len(text); i++ {
		row = delta[row+class[text[i]]]
		if row >= outStart {
			for _, id := range m.outs[row/nc] {
				hit(id, i+1-m.lengths[id])
			}
		}
	}
}
