package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
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
