package sandrun

import (
	"context"
	"errors"
	"time"
)

// Admission is the pipeline's one gate between deciding what to run and
// running it: concurrency slots, the wait queue, per-caller rate limits
// and draining. Every run and every session step passes it, whichever
// door it came through (REST, Piston, MCP, sessions); the server provides
// the implementation (server.Admission), the CLI runs without one.
type Admission interface {
	// Admit waits until the run may start, or refuses it with a
	// *BusyError (or the context's error when the caller left while it
	// waited). On success it returns the context the run must use (a
	// server drain cancels it with ErrShutdown as the cause) and done,
	// which the pipeline calls exactly once with the finished Result,
	// releasing the slot.
	Admit(ctx context.Context, t *Ticket) (runCtx context.Context, done func(*Result), err error)
}

// Ticket describes a run asking for admission.
type Ticket struct {
	Kind     string // "run" or "step"
	Backend  string
	Language string
	Session  string // the session id of a step
	// Bytes is about what the request holds in memory while it waits
	// (code, stdin, files, args, env): queues are bounded by it.
	Bytes int64
}

// BusyError refuses a run at admission: the server is at its limits, the
// caller is over its rate, or the server is shutting down. Nothing ran;
// the caller may retry after RetryAfter.
type BusyError struct {
	// Reason is a metric label: queue_full, queue_memory, queue_timeout,
	// rate_limited, draining.
	Reason     string
	Msg        string
	RetryAfter time.Duration
}

func (e *BusyError) Error() string { return e.Msg }

// ErrShutdown is the cancellation cause of runs stopped because the
// server shut down; the pipeline reports them as StatusCancelled saying
// so.
var ErrShutdown = errors.New("the server shut down before the run finished")

// ticketBytes estimates the memory a request holds.
func ticketBytes(r *Request) int64 {
	n := int64(len(r.Code) + len(r.Stdin))
	for _, f := range r.Files {
		n += int64(len(f.Name) + len(f.Content))
	}
	for _, a := range r.Args {
		n += int64(len(a))
	}
	for k, v := range r.Env {
		n += int64(len(k) + len(v))
	}
	return n
}
