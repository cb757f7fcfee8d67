package driver

import (
	"runtime"
	"runtime/metrics"
	"time"

	"go.starlark.net/starlark"
)

// memCancel is the cancellation reason of a Starlark step stopped by
// heapCheck; the driver reports such a step as kind "memory".
const memCancel = "the step's memory use passed the session's memory limit"

// heapCheck stops a Starlark step whose heap passes the session's memory
// limit, before the hard cap (RLIMIT_DATA: the limit plus the runtime's
// reserve) is reached. At that cap the Go runtime does not die in one
// recognisable way: pthread_create fails, or on a loaded host its
// collector crashed with SIGSEGV when a mapping failed, and the step
// ended exit_error with the interpreter gone. Stopped at the limit, a
// memory bomb is a memory_limit step and the session lives on.
//
// It runs in the Starlark thread itself (OnMaxSteps every few steps, the
// heap read at most once a millisecond): a watcher goroutine would need
// an OS thread, which is exactly what cannot be created near the cap.
type heapCheck struct {
	limit uint64
	last  time.Time
	s     []metrics.Sample
}

// heapCheckSteps is how many Starlark steps pass between two looks at the
// clock; a look at the heap costs about a microsecond.
const heapCheckSteps = 64

func newHeapCheck(limit int64) *heapCheck {
	return &heapCheck{limit: uint64(limit), s: []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}}
}

// install arms th: the check runs every heapCheckSteps steps.
func (h *heapCheck) install(th *starlark.Thread) {
	th.OnMaxSteps = h.onSteps
	th.SetMaxExecutionSteps(th.ExecutionSteps() + heapCheckSteps)
}

func (h *heapCheck) onSteps(th *starlark.Thread) {
	th.SetMaxExecutionSteps(th.ExecutionSteps() + heapCheckSteps)
	if now := time.Now(); now.Sub(h.last) >= time.Millisecond {
		h.last = now
		if h.over() {
			th.Cancel(memCancel)
		}
	}
}

// over reports whether the heap's live objects take more than the limit.
// The cheap reading counts garbage not yet collected too, so a reading
// over the limit is confirmed after a collection: only live data stops a
// step (a collection costs milliseconds, and only happens near the limit).
func (h *heapCheck) over() bool {
	if !h.read() {
		return false
	}
	runtime.GC()
	return h.read()
}

func (h *heapCheck) read() bool {
	metrics.Read(h.s)
	return h.s[0].Value.Kind() == metrics.KindUint64 && h.s[0].Value.Uint64() > h.limit
}
