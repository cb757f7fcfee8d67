package sanitize

// keywordMatcher finds every occurrence of a set of ASCII keywords in a
// text, ignoring ASCII case, in one pass. It is an Aho-Corasick automaton
// compiled to a full DFA over byte classes: the scan loop is one table
// load per input byte, with no lowercased copy of the text.
//
// Why not github.com/BobuSumisu/aho-corasick (the one gitleaks uses): it is
// case-sensitive, so it needs a lowercased copy of the whole text, and it
// allocates a *Match per hit; on keyword-dense output those two costs were
// most of the 5 ms/MiB budget.
type keywordMatcher struct {
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

// newKeywordMatcher compiles keywords; keyword ids are their indexes.
// Empty keywords are ignored.
func newKeywordMatcher(keywords []string) *keywordMatcher {
	m := &keywordMatcher{lengths: make([]int, len(keywords))}
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
	// Trie.
	type node struct {
		next map[uint32]int32
		out  []int
	}
	nodes := []node{{next: map[uint32]int32{}}}
	for id, k := range keywords {
		m.lengths[id] = len(k)
		if k == "" {
			continue
		}
		s := int32(0)
		for i := 0; i < len(k); i++ {
			c := m.class[k[i]]
			n, ok := nodes[s].next[c]
			if !ok {
				n = int32(len(nodes))
				nodes = append(nodes, node{next: map[uint32]int32{}})
				nodes[s].next[c] = n
			}
			s = n
		}
		nodes[s].out = append(nodes[s].out, id)
	}
	// Breadth-first failure links, filling the DFA as we go.
	nc := m.nclass
	delta := make([]int32, len(nodes)*nc)
	outs := make([][]int, len(nodes))
	fail := make([]int32, len(nodes))
	queue := []int32{}
	for c := 0; c < nc; c++ {
		if n, ok := nodes[0].next[uint32(c)]; ok {
			delta[c] = n
			queue = append(queue, n)
		}
	}
	outs[0] = nodes[0].out
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		outs[s] = append(append([]int(nil), nodes[s].out...), outs[fail[s]]...)
		for c := 0; c < nc; c++ {
			if n, ok := nodes[s].next[uint32(c)]; ok {
				fail[n] = delta[int(fail[s])*nc+c]
				delta[int(s)*nc+c] = n
				queue = append(queue, n)
			} else {
				delta[int(s)*nc+c] = delta[int(fail[s])*nc+c]
			}
		}
	}
	// Renumber: states without outputs first (the root stays 0).
	id := make([]uint32, len(nodes))
	var order []int
	for pass := 0; pass < 2; pass++ {
		for s := range nodes {
			if (len(outs[s]) > 0) == (pass == 1) {
				id[s] = uint32(len(order))
				order = append(order, s)
			}
		}
		if pass == 0 {
			m.outStart = uint32(len(order) * nc)
		}
	}
	m.delta = make([]uint32, len(delta))
	m.outs = make([][]int, len(nodes))
	for newID, s := range order {
		for c := 0; c < nc; c++ {
			m.delta[newID*nc+c] = id[delta[s*nc+c]] * uint32(nc)
		}
		m.outs[newID] = outs[s]
	}
	return m
}

// scan calls hit(id, start) for every keyword occurrence, in text order
// of the keyword's end.
func (m *keywordMatcher) scan(text string, hit func(id, start int)) {
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
