package sanitize

import (
	"strings"
	"sync"

	"github.com/sandrun/sandrun"
)

// Streaming: how much is held back, and how much already-shown text is
// kept as context for the next scan.
const (
	// streamContext is the tail of already-emitted raw text scanned again
	// with the next chunk, so a rule sees the keyword that came before
	// (its window reaches defaultBefore bytes back).
	streamContext = 1024
	// streamLongLine: a line with no newline is held back until it is this
	// long; then all but its last streamTail bytes are emitted.
	streamLongLine = 16 << 10
	// streamTail is kept from a long line so a secret split across chunks
	// is still whole when scanned; the cut is moved back to whitespace.
	streamTail = 2048
	// streamPEMHold caps how long an unterminated private key is held
	// back waiting for its END line.
	streamPEMHold = 1 << 20
)

// Stream scrubs output that arrives in chunks. Complete lines are scanned
// and emitted as they arrive; the last, incomplete line is held back (a
// secret split across two writes is whole when scanned), and so is an
// unterminated PEM private key. Each stream ("stdout", "stderr") has its
// own buffer. emit is called from Write and Close, never concurrently.
type Stream struct {
	s    *Sanitizer
	emit func(stream, text string)

	mu      sync.Mutex
	order   []string
	state   map[string]*streamState
	counter counter
	closed  bool
}

type streamState struct {
	ctx     string // raw tail of what was emitted, for context
	pending []byte // raw, not yet emitted
}

// NewStream returns a streaming filter that calls emit with scrubbed text.
func (s *Sanitizer) NewStream(emit func(stream string, text string)) *Stream {
	return &Stream{s: s, emit: emit, state: map[string]*streamState{}}
}

// Write adds a raw chunk of stream and emits whatever is safe to show.
// Writes after Close are dropped.
func (st *Stream) Write(stream string, p []byte) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return
	}
	ss := st.state[stream]
	if ss == nil {
		ss = &streamState{}
		st.state[stream] = ss
		st.order = append(st.order, stream)
	}
	ss.pending = append(ss.pending, p...)
	st.flush(stream, ss, false)
}

// Close scans and emits everything still held back, stream by stream in
// the order they first appeared.
func (st *Stream) Close() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return
	}
	st.closed = true
	for _, name := range st.order {
		st.flush(name, st.state[name], true)
	}
}

// Detections returns what was redacted so far.
func (st *Stream) Detections() []sandrun.Detection {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.counter.list()
}

func (st *Stream) flush(name string, ss *streamState, final bool) {
	cut := len(ss.pending)
	if !final {
		cut = safeCut(ss.ctx, ss.pending)
	}
	if cut == 0 {
		return
	}
	chunk := string(ss.pending[:cut])
	text := ss.ctx + chunk
	base := len(ss.ctx)
	var spans []span
	for _, sp := range st.s.find(text, "") {
		if sp.end <= base {
			continue // inside the context: handled when it was emitted
		}
		sp.start = max(sp.start, base) - base
		sp.end -= base
		spans = append(spans, sp)
	}
	out := redact(chunk, spans, func(r string) { st.counter.add(r, name) })
	ss.pending = append(ss.pending[:0], ss.pending[cut:]...)
	ss.ctx = contextTail(text)
	st.emit(name, out)
}

// safeCut is how much of pending can be scanned and emitted now.
func safeCut(ctx string, pending []byte) int {
	p := string(pending) // one copy per write; pending is at most a line or a key
	cut := strings.LastIndexByte(p, '\n') + 1
	if cut == 0 && len(p) >= streamLongLine {
		cut = len(p) - streamTail
		if ws := strings.LastIndexAny(p[cut-streamTail:cut], " \t\r"); ws >= 0 {
			cut = cut - streamTail + ws + 1
		}
	}
	// Hold an unterminated private key back from its BEGIN line.
	if i := openPEM(ctx + p[:cut]); i >= 0 {
		i -= len(ctx)
		if i < 0 {
			i = 0
		}
		if len(p) < streamPEMHold {
			cut = min(cut, lineStart(p, i))
		}
	}
	return cut
}

// openPEM returns the offset of the last "-----BEGIN ... PRIVATE KEY"
// marker in text that has no END marker after it, or -1.
func openPEM(text string) int {
	b := strings.LastIndex(text, "-----BEGIN")
	if b < 0 {
		return -1
	}
	head := text[b:min(len(text), b+140)]
	if nl := strings.IndexByte(head, '\n'); nl >= 0 {
		head = head[:nl]
	}
	if !strings.Contains(head, "PRIVATE KEY") {
		return -1
	}
	if strings.Contains(text[b:], "-----END") {
		return -1
	}
	return b
}

// contextTail keeps the last streamContext bytes of text, from a line
// start when one is that close.
func contextTail(text string) string {
	if len(text) <= streamContext {
		return text
	}
	t := text[len(text)-streamContext:]
	if i := strings.IndexByte(t, '\n'); i >= 0 && i+1 < len(t) {
		return t[i+1:]
	}
	return t
}
