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
	class   [256]uint16 // input byte -> byte class (ASCII case folded)
	nclass  int
	delta   []int32 // state*nclass + class -> next state
	outs    [][]int // state -> keyword ids that end here (suffix closure)
	lengths []int   // keyword id -> length in bytes
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
				m.class[c] = uint16(m.nclass)
				m.nclass++
			}
		}
	}
	for b := 'A'; b <= 'Z'; b++ {
		m.class[b] = m.class[b+'a'-'A']
	}
	// Trie.
	type node struct {
		next map[uint16]int32
		out  []int
	}
	nodes := []node{{next: map[uint16]int32{}}}
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
				nodes = append(nodes, node{next: map[uint16]int32{}})
				nodes[s].next[c] = n
			}
			s = n
		}
		nodes[s].out = append(nodes[s].out, id)
	}
	// Breadth-first failure links, filling the DFA as we go.
	nc := m.nclass
	m.delta = make([]int32, len(nodes)*nc)
	m.outs = make([][]int, len(nodes))
	fail := make([]int32, len(nodes))
	queue := []int32{}
	for c := 0; c < nc; c++ {
		if n, ok := nodes[0].next[uint16(c)]; ok {
			m.delta[c] = n
			queue = append(queue, n)
		}
	}
	m.outs[0] = nodes[0].out
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		m.outs[s] = append(append([]int(nil), nodes[s].out...), m.outs[fail[s]]...)
		for c := 0; c < nc; c++ {
			if n, ok := nodes[s].next[uint16(c)]; ok {
				fail[n] = m.delta[int(fail[s])*nc+c]
				m.delta[int(s)*nc+c] = n
				queue = append(queue, n)
			} else {
				m.delta[int(s)*nc+c] = m.delta[int(fail[s])*nc+c]
			}
		}
	}
	return m
}

// scan calls hit(id, start) for every keyword occurrence, in text order
// of the keyword's end.
func (m *keywordMatcher) scan(text string, hit func(id, start int)) {
	nc := int32(m.nclass)
	delta, class, outs := m.delta, &m.class, m.outs
	s := int32(0)
	for i := 0; i < len(text); i++ {
		s = delta[s*nc+int32(class[text[i]])]
		if o := outs[s]; len(o) > 0 {
			for _, id := range o {
				hit(id, i+1-m.lengths[id])
			}
		}
	}
}
