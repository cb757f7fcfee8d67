package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/sandrun/sandrun"
)

// Piston's WebSocket protocol, GET /api/v2/connect (api/src/api/v2.js,
// router.ws('/connect')), with github.com/coder/websocket. Messages are
// JSON text frames.
//
//	client -> server
//	  {"type":"init", ...execute's body}     once, first
//	  {"type":"data","stream":"stdin","data":"..."}  input as it comes
//	  {"type":"signal","signal":"SIGINT"}    a signal for the program
//	server -> client
//	  {"type":"runtime","language","version"} the job was accepted
//	  {"type":"stage","stage":"run"}
//	  {"type":"data","stream":"stdout"|"stderr","data":"..."} output as it comes (sanitized)
//	  {"type":"exit","stage":"run","code","signal", "status","message"}
//	  {"type":"error","message"}              then close 4002
//
// Close codes, as Piston's: 4000 Already Initialized, 4001
// Initialization Timeout, 4002 Notified Error, 4003 Not yet initialized,
// 4004 Can only write to stdin, 4005 Invalid signal, 4999 Job Completed.
// Unknown message types are ignored, as Piston ignores them.
//
// Differences: the init's stdin is fed first (Piston's connect ignores
// it) and not given Piston's trailing newline; the init must come within
// pistonInitTimeout (Piston: 1 s, which a loaded client can miss); exit
// also carries Piston's status code and message as execute's run does.
// The route is behind the same authentication as every other; the
// upgrade refuses a browser Origin other than the server's own host
// (coder/websocket's check), so a page elsewhere cannot drive it.

const (
	pistonInitTimeout = 5 * time.Second
	// pistonStdinBuffer bounds the input sent but not yet read by the
	// program; past it the client is told and the connection closed.
	pistonStdinBuffer = 1 << 20
)

// Piston's close codes.
const (
	closeAlreadyInit websocket.StatusCode = 4000
	closeInitTimeout websocket.StatusCode = 4001
	closeNotified    websocket.StatusCode = 4002
	closeNotInit     websocket.StatusCode = 4003
	closeNotStdin    websocket.StatusCode = 4004
	closeBadSignal   websocket.StatusCode = 4005
	closeCompleted   websocket.StatusCode = 4999
)

// pistonMessage is any message of the protocol (both directions).
type pistonMessage struct {
	Type     string  `json:"type"`
	Stream   string  `json:"stream,omitempty"`
	Data     string  `json:"data,omitempty"`
	Signal   any     `json:"signal,omitempty"`
	Language string  `json:"language,omitempty"`
	Version  string  `json:"version,omitempty"`
	Stage    string  `json:"stage,omitempty"`
	Message  *string `json:"message,omitempty"`
}

// pistonExit is the exit message: code and signal are null when absent,
// as Piston sends them.
type pistonExit struct {
	Type    string  `json:"type"`
	Stage   string  `json:"stage"`
	Code    *int    `json:"code"`
	Signal  *string `json:"signal"`
	Status  *string `json:"status"`
	Message *string `json:"message"`
}

func (s *Server) pistonConnect(w http.ResponseWriter, r *http.Request) {
	// The server's read timeout was set on the connection for the
	// request; it would cut a run that outlasts it. The run's own limits
	// and the init timeout bound the connection instead.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	if !sameOrigin(r) {
		pistonError(w, http.StatusForbidden, "cross-origin WebSocket refused: a browser page on another origin may not connect to this server")
		return
	}
	c, err := websocket.Accept(w, r, nil) // checks the origin again
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(s.opts.MaxBodyBytes)
	pc := &pistonConn{s: s, c: c, r: r}
	pc.serve(r.Context())
}

// sameOrigin reports whether a WebSocket upgrade comes from a page of
// this server's own host, or from no browser page at all (no Origin).
// CrossOriginProtection checks only unsafe methods, and the upgrade is a
// GET.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// pistonConn is one connection's state.
type pistonConn struct {
	s *Server
	c *websocket.Conn
	r *http.Request

	mu      sync.Mutex
	started bool
	input   *inputQueue
	sigs    chan os.Signal
	runDone chan struct{}
}

func (pc *pistonConn) send(ctx context.Context, v any) {
	b, err := json.Marshal(v)
	if err == nil {
		_ = pc.c.Write(ctx, websocket.MessageText, b)
	}
}

// fail tells the client what went wrong, then closes (Piston: the close
// reason is limited to 123 bytes, so the message goes first).
func (pc *pistonConn) fail(ctx context.Context, msg string) {
	pc.send(ctx, pistonMessage{Type: "error", Message: &msg})
	_ = pc.c.Close(closeNotified, "Notified Error")
}

func (pc *pistonConn) serve(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	initTimer := time.AfterFunc(pistonInitTimeout, func() {
		pc.mu.Lock()
		started := pc.started
		pc.mu.Unlock()
		if !started {
			_ = pc.c.Close(closeInitTimeout, "Initialization Timeout")
		}
	})
	defer initTimer.Stop()
	var wg sync.WaitGroup
	defer wg.Wait() // the run ends (cancelled if need be) before the handler
	defer cancel()
	for {
		_, data, err := pc.c.Read(ctx)
		if err != nil {
			// The client left or the connection closed: end the run.
			pc.endInput()
			return
		}
		var msg struct {
			Type   string          `json:"type"`
			Stream string          `json:"stream"`
			Data   json.RawMessage `json:"data"`
			Signal json.RawMessage `json:"signal"`
		}
		if err := json.Unmarshal(data, &msg); err != nil {
			pc.fail(ctx, err.Error())
			return
		}
		pc.mu.Lock()
		started := pc.started
		pc.mu.Unlock()
		switch msg.Type {
		case "init":
			if started {
				_ = pc.c.Close(closeAlreadyInit, "Already Initialized")
				return
			}
			req, l, err := pc.s.pistonJobFor(pc.r, data, true)
			if err != nil {
				pc.fail(ctx, err.Error())
				return
			}
			pc.mu.Lock()
			pc.started = true
			pc.input = newInputQueue(pistonStdinBuffer)
			pc.sigs = make(chan os.Signal, 8)
			pc.runDone = make(chan struct{})
			pc.mu.Unlock()
			req.Input, req.Signals = pc.input, pc.sigs
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer close(pc.runDone)
				pc.run(ctx, req, l)
			}()
		case "data":
			if !started {
				_ = pc.c.Close(closeNotInit, "Not yet initialized")
				return
			}
			if msg.Stream != "stdin" {
				_ = pc.c.Close(closeNotStdin, "Can only write to stdin")
				return
			}
			var text string
			if err := json.Unmarshal(msg.Data, &text); err != nil {
				pc.fail(ctx, "data must be a string")
				return
			}
			if err := pc.input.write(text); err != nil {
				pc.fail(ctx, err.Error())
				return
			}
		case "signal":
			if !started {
				_ = pc.c.Close(closeNotInit, "Not yet initialized")
				return
			}
			var name string
			_ = json.Unmarshal(msg.Signal, &name)
			sig, ok := pistonSignal(name)
			if !ok {
				_ = pc.c.Close(closeBadSignal, "Invalid signal")
				return
			}
			select {
			case pc.sigs <- sig:
			case <-pc.runDone:
			}
		}
	}
}

func (pc *pistonConn) endInput() {
	pc.mu.Lock()
	in := pc.input
	pc.mu.Unlock()
	if in != nil {
		in.close()
	}
}

// run executes the job, streaming its output through the sanitizer's
// streaming filter, then sends exit and closes with 4999.
func (pc *pistonConn) run(ctx context.Context, req *sandrun.Request, l LanguageInfo) {
	defer pc.endInput()
	if pc.s.opts.NewStream == nil {
		// Output as it comes needs the streaming sanitizer; without it
		// nothing is streamed (fail closed), as for server-sent events.
		pc.fail(ctx, "this server streams output only through the sanitizer's streaming filter, which is not configured")
		return
	}
	out := newOutQueue()
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for {
			m, ok := out.next()
			if !ok {
				return
			}
			pc.send(ctx, m)
		}
	}()
	filter := &lockedFilter{f: pc.s.opts.NewStream(func(stream, text string) {
		if text != "" {
			out.push(pistonMessage{Type: "data", Stream: stream, Data: text})
		}
	})}
	req.OnOutput = filter.Write
	pc.send(ctx, pistonMessage{Type: "runtime", Language: l.Name, Version: l.Version})
	pc.send(ctx, pistonMessage{Type: "stage", Stage: "run"})
	res, err := pc.s.execute(ctx, req)
	filter.Close()
	out.close()
	<-writerDone
	var ref *refusal
	switch {
	case errors.As(err, &ref):
		pc.fail(ctx, ref.Msg)
		return
	case errors.Is(err, sandrun.ErrBadRequest):
		pc.fail(ctx, err.Error())
		return
	case res == nil:
		pc.fail(ctx, fmt.Sprint(err))
		return
	}
	st := pistonStage(res)
	pc.send(ctx, pistonExit{Type: "exit", Stage: "run", Code: st.Code, Signal: st.Signal, Status: st.Status, Message: st.Message})
	_ = pc.c.Close(closeCompleted, "Job Completed")
}

// inputQueue is the program's input as the client sends it: writes never
// block (the reader loop must keep reading signals), and at most limit
// bytes wait for the program; Read blocks until there is input or the
// queue is closed.
type inputQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	buf    []byte
	closed bool
	limit  int
}

func newInputQueue(limit int) *inputQueue {
	q := &inputQueue{limit: limit}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *inputQueue) write(s string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil // the run is over; Piston drops late input too
	}
	if len(q.buf)+len(s) > q.limit {
		return fmt.Errorf("stdin: more than %d bytes are waiting for the program to read them", q.limit)
	}
	q.buf = append(q.buf, s...)
	q.cond.Broadcast()
	return nil
}

func (q *inputQueue) Read(p []byte) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.buf) == 0 && !q.closed {
		q.cond.Wait()
	}
	if len(q.buf) == 0 {
		return 0, errors.New("input closed") // not EOF: the run is over
	}
	n := copy(p, q.buf)
	q.buf = q.buf[n:]
	return n, nil
}

func (q *inputQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

// outQueue holds output messages for the writer. It is not bounded by
// count: the run's output limit (per stream) bounds what the filter can
// emit, and dropping output would lose what Piston's protocol promises.
type outQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	msgs   []pistonMessage
	closed bool
}

func newOutQueue() *outQueue {
	q := &outQueue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *outQueue) push(m pistonMessage) {
	q.mu.Lock()
	q.msgs = append(q.msgs, m)
	q.cond.Signal()
	q.mu.Unlock()
}

func (q *outQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

// next returns the next message, waiting for one; false once closed and
// drained.
func (q *outQueue) next() (pistonMessage, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.msgs) == 0 && !q.closed {
		q.cond.Wait()
	}
	if len(q.msgs) == 0 {
		return pistonMessage{}, false
	}
	m := q.msgs[0]
	q.msgs = q.msgs[1:]
	return m, true
}
