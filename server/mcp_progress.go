package server

import (
	"context"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sandrun/sandrun"
)

// progressStream sends a run's output, sanitized, as MCP progress
// notifications while it runs, when the client asked for progress (a
// progress token) and the sanitizer's streaming filter is configured; a
// tool has no way to ask for raw output, so without the filter nothing is
// streamed. As with SSE, the program's pipe never waits on the client:
// messages go through a bounded queue and the excess is dropped (the final
// result has the whole output).
type progressStream struct {
	ch   chan string
	done chan struct{}

	mu     sync.Mutex
	closed bool
}

// startProgress wires req.OnOutput and returns a stop function that
// flushes the filter and waits for the last notification; it returns a
// no-op when there is nothing to stream.
func (s *Server) startProgress(ctx context.Context, call *mcp.CallToolRequest, req *sandrun.Request) func() {
	if call == nil || call.Params == nil || call.Session == nil || s.opts.NewStream == nil {
		return func() {}
	}
	token := call.Params.GetProgressToken()
	if token == nil {
		return func() {}
	}
	p := &progressStream{ch: make(chan string, streamQueue), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		n := 0
		for msg := range p.ch {
			n++
			_ = call.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: token, Progress: float64(n), Message: msg})
		}
	}()
	filter := &lockedFilter{f: s.opts.NewStream(func(stream, text string) {
		if text == "" {
			return
		}
		if stream == "stderr" {
			text = "[stderr] " + text
		}
		p.send(text)
	})}
	req.OnOutput = filter.Write
	return func() {
		filter.Close()
		p.mu.Lock()
		p.closed = true
		close(p.ch)
		p.mu.Unlock()
		<-p.done
	}
}

func (p *progressStream) send(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	select {
	case p.ch <- msg:
	default: // dropped: the final result has it
	}
}
