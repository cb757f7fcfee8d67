package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/sandrun/sandrun"
)

// Streaming (POST /v1/runs with Accept: text/event-stream) sends
// server-sent events:
//
//	event: stdout            data: {"text": "..."}   sanitized chunk
//	event: stderr            data: {"text": "..."}
//	event: dropped           data: {"chunks": N}     chunks skipped for a slow reader
//	event: display           data: <Display>         one per item the program showed
//	                                                 (figures, in order), after its output
//	event: result            data: <Result>          always last; without the display
//	                                                 items (no image twice on the wire)
//
// The program's pipe must never wait on a slow HTTP client, so chunks go
// through a bounded queue; when it is full, chunks are dropped and counted
// (the final Result still has all the output, up to the output limit).
// Until the first chunk is sent nothing is written, so a request refused
// before it runs gets the same status and error body as without
// streaming.

// ChunkEvent is the data of a stdout or stderr event.
type ChunkEvent struct {
	Text string `json:"text"`
}

// DroppedEvent is the data of a dropped event.
type DroppedEvent struct {
	Chunks int `json:"chunks"`
}

const streamQueue = 256

type sseEvent struct {
	name string
	data any
}

// eventWriter writes events from one goroutine; send never blocks.
type eventWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController

	mu      sync.Mutex
	started bool
	closed  bool
	dropped int
	ch      chan sseEvent
	done    chan struct{}
}

func newEventWriter(w http.ResponseWriter) *eventWriter {
	return &eventWriter{w: w, rc: http.NewResponseController(w), ch: make(chan sseEvent, streamQueue), done: make(chan struct{})}
}

func (e *eventWriter) send(ev sseEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	if !e.started {
		e.started = true
		go e.loop()
	}
	select {
	case e.ch <- ev:
	default:
		e.dropped++
	}
}

func (e *eventWriter) loop() {
	defer close(e.done)
	e.header()
	for ev := range e.ch {
		_ = writeEvent(e.w, ev)
		// One flush (a write to the socket, a wake-up of the client) per
		// burst, not per chunk: the last chunk queued is flushed at once,
		// the ones queued behind a chunk go out with it.
		if len(e.ch) == 0 {
			_ = e.rc.Flush()
		}
	}
}

func (e *eventWriter) header() {
	h := e.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	e.w.WriteHeader(http.StatusOK)
}

// finish stops the queue, waits for the writer and reports whether
// anything was sent.
func (e *eventWriter) finish() (started bool, dropped int) {
	e.mu.Lock()
	e.closed = true
	started = e.started
	close(e.ch)
	e.mu.Unlock()
	if started {
		<-e.done
	}
	return started, e.dropped
}

func writeEvent(w io.Writer, ev sseEvent) error {
	data, err := json.Marshal(ev.data)
	if err != nil {
		return err
	}
	// JSON has no raw newlines, so one data line holds the whole value.
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.name, data)
	return err
}

// passThrough is the filter for runs that turned sanitization off.
type passThrough struct{ emit func(stream, text string) }

func (p passThrough) Write(stream string, b []byte) { p.emit(stream, string(b)) }
func (p passThrough) Close()                        {}

// lockedFilter serializes calls: stdout and stderr are read by two
// goroutines, and a filter need not be safe for concurrent use.
type lockedFilter struct {
	mu sync.Mutex
	f  StreamFilter
}

func (l *lockedFilter) Write(stream string, b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.f.Write(stream, b)
}

func (l *lockedFilter) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.f.Close()
}

// newFilter picks the filter for a run: the sanitizer's, or a pass
// through when the caller turned sanitization off. It refuses to stream
// raw output otherwise (fail closed).
func (s *Server) newFilter(req *sandrun.Request, emit func(stream, text string)) (StreamFilter, error) {
	if req.NoSanitize {
		return passThrough{emit}, nil
	}
	if s.opts.NewStream == nil {
		return nil, errors.New("streaming needs the sanitizer's streaming filter, which this server does not have; " +
			"ask without Accept: text/event-stream, or set no_sanitize")
	}
	return &lockedFilter{f: s.opts.NewStream(emit)}, nil
}

func (s *Server) streamRun(w http.ResponseWriter, r *http.Request, req *sandrun.Request) {
	ev := newEventWriter(w)
	filter, err := s.newFilter(req, func(stream, text string) {
		if text != "" {
			ev.send(sseEvent{name: stream, data: ChunkEvent{Text: text}})
		}
	})
	if err != nil {
		writeError(w, http.StatusNotImplemented, "", err.Error())
		return
	}
	req.OnOutput = filter.Write
	res, err := s.execute(r.Context(), req)
	filter.Close()
	started, dropped := ev.finish()
	if !started && err != nil {
		writeRunError(w, res, err)
		return
	}
	if !started {
		ev.header()
	}
	if res == nil { // refused after output began: cannot happen, but never send an empty result
		_ = writeEvent(w, sseEvent{name: "error", data: ErrorBody{Error: err.Error()}})
		return
	}
	if dropped > 0 {
		_ = writeEvent(w, sseEvent{name: "dropped", data: DroppedEvent{Chunks: dropped}})
	}
	for _, d := range res.Display {
		_ = writeEvent(w, sseEvent{name: "display", data: d})
	}
	out := *res
	out.Display = nil
	_ = writeEvent(w, sseEvent{name: "result", data: &out})
	_ = ev.rc.Flush()
}
