// Package capture holds a program's output in a buffer with a hard cap, so
// that a flood costs the host at most the cap, and reports the overflow as
// it happens so the supervisor can kill the program.
package capture

import (
	"fmt"
	"sync"
)

// Buffer is an io.Writer that keeps the first Limit bytes written to it.
// Past the limit it keeps draining (so the writer never blocks on a full
// pipe) but stores nothing, and calls OnOverflow once.
type Buffer struct {
	stream     string
	limit      int64
	onChunk    func(stream string, p []byte)
	onOverflow func()

	mu       sync.Mutex
	buf      []byte
	total    int64
	overflow bool
}

// New returns a buffer for stream ("stdout" or "stderr"). onChunk, if not
// nil, sees every kept chunk as it arrives; onOverflow, if not nil, is
// called once, from the writing goroutine, when the limit is passed.
func New(stream string, limit int64, onChunk func(string, []byte), onOverflow func()) *Buffer {
	return &Buffer{stream: stream, limit: limit, onChunk: onChunk, onOverflow: onOverflow}
}

// Write implements io.Writer. It never fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	room := b.limit - int64(len(b.buf))
	keep := p
	if int64(len(keep)) > room {
		keep = keep[:max(room, 0)]
	}
	b.buf = append(b.buf, keep...)
	b.total += int64(len(p))
	fire := false
	if b.total > b.limit && !b.overflow {
		b.overflow = true
		fire = true
	}
	b.mu.Unlock()
	if len(keep) > 0 && b.onChunk != nil {
		b.onChunk(b.stream, keep)
	}
	if fire && b.onOverflow != nil {
		b.onOverflow()
	}
	return len(p), nil
}

// Overflowed reports whether more than the limit was written.
func (b *Buffer) Overflowed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.overflow
}

// Total is the number of bytes written, kept or not.
func (b *Buffer) Total() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// Bytes returns the kept bytes.
func (b *Buffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf...)
}

// Text returns the kept output and, when the cap cut it, a notice saying
// how much was written and how much is shown.
func (b *Buffer) Text() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.overflow {
		return string(b.buf)
	}
	return string(b.buf) + TruncationNotice(b.total, int64(len(b.buf)))
}

// TruncationNotice is the line appended to output cut by a cap. total is
// a lower bound when the program was killed while still writing.
func TruncationNotice(total, shown int64) string {
	return fmt.Sprintf("\n[OUTPUT TRUNCATED: %d bytes, showing first %d]\n", total, shown)
}
