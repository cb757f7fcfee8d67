package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// blockingWriter stalls every write until release is closed: a client
// that stopped reading.
type blockingWriter struct {
	*httptest.ResponseRecorder
	release chan struct{}
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	<-b.release
	return b.ResponseRecorder.Write(p)
}

func (b *blockingWriter) Flush() {}

// A slow reader never blocks the program's output: sends return at once,
// the excess is dropped and counted.
func TestEventWriterNeverBlocks(t *testing.T) {
	bw := &blockingWriter{ResponseRecorder: httptest.NewRecorder(), release: make(chan struct{})}
	ev := newEventWriter(bw)
	start := time.Now()
	for i := 0; i < 5000; i++ {
		ev.send(sseEvent{name: "stdout", data: ChunkEvent{Text: "x"}})
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("sending took %v: the writer blocked", d)
	}
	close(bw.release)
	started, dropped := ev.finish()
	if !started || dropped == 0 || dropped > 5000-streamQueue {
		t.Fatalf("started %v dropped %d", started, dropped)
	}
	if n := strings.Count(bw.Body.String(), "event: stdout"); n+dropped != 5000 {
		t.Fatalf("%d written + %d dropped != 5000", n, dropped)
	}
	if bw.Code != http.StatusOK || bw.Header().Get("Content-Type") != "text/event-stream" {
		t.Fatalf("header %d %q", bw.Code, bw.Header().Get("Content-Type"))
	}
}

// countingWriter records the writes and flushes of the event writer.
type countingWriter struct {
	*httptest.ResponseRecorder
	release chan struct{}
	mu      sync.Mutex
	ops     []string
}

func (c *countingWriter) Write(p []byte) (int, error) {
	<-c.release
	c.mu.Lock()
	c.ops = append(c.ops, "w")
	c.mu.Unlock()
	return c.ResponseRecorder.Write(p)
}

func (c *countingWriter) Flush() {
	c.mu.Lock()
	c.ops = append(c.ops, "f")
	c.mu.Unlock()
}

func (c *countingWriter) flushed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ops) > 0 && c.ops[len(c.ops)-1] == "f"
}

// A chunk alone is flushed at once (the client sees it before the run
// ends); a burst queued behind a slow write goes out with one flush, and
// the last chunk of it is flushed.
func TestEventWriterFlushesPerBurst(t *testing.T) {
	open := make(chan struct{})
	close(open)
	cw := &countingWriter{ResponseRecorder: httptest.NewRecorder(), release: open}
	ev := newEventWriter(cw)
	ev.send(sseEvent{name: "stdout", data: ChunkEvent{Text: "x"}})
	for deadline := time.Now().Add(30 * time.Second); !cw.flushed(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a lone chunk was not flushed before the run ended")
		}
	}
	ev.finish()

	cw = &countingWriter{ResponseRecorder: httptest.NewRecorder(), release: make(chan struct{})}
	ev = newEventWriter(cw)
	for i := 0; i < 100; i++ {
		ev.send(sseEvent{name: "stdout", data: ChunkEvent{Text: "x"}})
	}
	close(cw.release)
	ev.finish()
	ops := strings.Join(cw.ops, "")
	writes, flushes := strings.Count(ops, "w"), strings.Count(ops, "f")
	if writes != 100 || flushes == 0 || flushes >= writes || !strings.HasSuffix(ops, "f") {
		t.Fatalf("writes and flushes %q: want 100 writes, fewer flushes, the last op a flush", ops)
	}
}
