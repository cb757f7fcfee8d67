package docker

import (
	"io"
	"sync"
)

// streamBuf carries one of a launched container's output streams from
// the demultiplexer to the caller. The engine sends stdout and stderr
// interleaved on one connection, so with plain io.Pipes a caller that
// reads only stdout (stderr unread) stalls stdout too as soon as the
// program writes a byte to stderr: the demultiplexer blocks on the
// stderr pipe and stops reading the connection. That was the docker
// Launcher's hang (GNU tar's timestamp warning on stderr, then no answer
// on stdout). Each stream gets a buffer of a pipe's size instead, so a
// stream nobody reads holds up the others only once it is full, as
// separate OS pipes would.
type streamBuf struct {
	mu   sync.Mutex
	cond *sync.Cond
	buf  []byte
	max  int
	err  error // set when the writer is done: readers drain, then get it
	gone bool  // the reader closed: writes fail
}

// streamBufSize is a Linux pipe's default capacity.
const streamBufSize = 64 << 10

func newStreamBuf(max int) *streamBuf {
	b := &streamBuf{max: max}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// Write blocks while the buffer is full, like a pipe; it fails once the
// stream is closed from either end.
func (b *streamBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for len(p) > 0 {
		for len(b.buf) >= b.max && b.err == nil && !b.gone {
			b.cond.Wait()
		}
		if b.err != nil || b.gone {
			return n, io.ErrClosedPipe
		}
		k := min(len(p), b.max-len(b.buf))
		b.buf = append(b.buf, p[:k]...)
		p = p[k:]
		n += k
		b.cond.Broadcast()
	}
	return n, nil
}

// Read blocks until there is data or the writer is done.
func (b *streamBuf) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.buf) == 0 && b.err == nil && !b.gone {
		b.cond.Wait()
	}
	if len(b.buf) == 0 {
		if b.gone {
			return 0, io.ErrClosedPipe
		}
		return 0, b.err
	}
	n := copy(p, b.buf)
	b.buf = b.buf[n:]
	if len(b.buf) == 0 {
		b.buf = nil // let a drained buffer's array go
	}
	b.cond.Broadcast()
	return n, nil
}

// CloseWithError ends the stream from the writer's side: what is
// buffered can still be read, then err (io.EOF when nil). A writer
// blocked on a full buffer gets an error.
func (b *streamBuf) CloseWithError(err error) {
	if err == nil {
		err = io.EOF
	}
	b.mu.Lock()
	if b.err == nil {
		b.err = err
	}
	b.cond.Broadcast()
	b.mu.Unlock()
}

// Close ends the stream from the reader's side.
func (b *streamBuf) Close() error {
	b.mu.Lock()
	b.gone = true
	b.buf = nil
	b.cond.Broadcast()
	b.mu.Unlock()
	return nil
}
