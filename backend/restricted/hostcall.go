package restricted

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sandrun/sandrun/internal/capture"
	"go.starlark.net/starlark"
)

// hostCaller answers a worker's host-function calls during one run. The
// functions run here, in the parent, with arguments decoded from a frame
// whose size is capped, so a hostile argument costs the host at most that
// cap.
type hostCaller struct {
	ctx    context.Context
	cancel context.CancelFunc
	table  *hostTable
	thread *starlark.Thread
	budget int
	// deadline is set when a call was cut at the run's deadline.
	deadline bool
}

// cut reports whether a call was cut at the run's deadline.
func (h *hostCaller) cut() bool { return h.deadline }

func newHostCaller(ctx context.Context, t *hostTable, deadline time.Time, spec *runSpec, stdout *capture.Buffer, budget int) *hostCaller {
	cctx, cancel := context.WithDeadline(ctx, deadline)
	th := &starlark.Thread{Name: "host"}
	th.SetLocal(contextKey, cctx)
	th.SetMaxExecutionSteps(spec.MaxSteps)
	th.Print = func(_ *starlark.Thread, msg string) { _, _ = stdout.Write([]byte(msg + "\n")) }
	return &hostCaller{ctx: cctx, cancel: cancel, table: t, thread: th, budget: budget}
}

// call answers one call frame. It never fails: errors go back to the
// program as the call's error.
func (h *hostCaller) call(payload []byte) returnMsg {
	var m callMsg
	if err := json.Unmarshal(payload, &m); err != nil {
		return returnMsg{Error: "malformed host call"}
	}
	if m.Func < 1 || m.Func > len(h.table.funcs) {
		return returnMsg{Error: fmt.Sprintf("no host function #%d", m.Func)}
	}
	fn := h.table.funcs[m.Func-1]
	args, kwargs, err := decodeCall(&m)
	if err != nil {
		return returnMsg{Error: fmt.Sprintf("%s: arguments: %v", fn.Name(), err)}
	}
	type answer struct {
		v   starlark.Value
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				ch <- answer{err: fmt.Errorf("%s: host function failed: %v", fn.Name(), r)}
			}
		}()
		v, err := starlark.Call(h.thread, fn, args, kwargs)
		ch <- answer{v, err}
	}()
	var a answer
	select {
	case a = <-ch:
	case <-h.ctx.Done():
		h.deadline = true
		// The function ignores its context; it is left to finish on its
		// own and the run goes on to its deadline.
		return returnMsg{Error: fmt.Sprintf("%s: host function did not return before the run's deadline", fn.Name())}
	}
	if a.err != nil {
		return returnMsg{Error: a.err.Error()}
	}
	if a.v == nil {
		return returnMsg{}
	}
	w, err := encodeWire(a.v, h.budget)
	if err != nil {
		return returnMsg{Error: fmt.Sprintf("%s: result: %v", fn.Name(), err)}
	}
	if w.T == "o" {
		return returnMsg{Error: fmt.Sprintf("%s: returned a %s, which cannot be passed to the program", fn.Name(), a.v.Type())}
	}
	return returnMsg{Value: &w}
}
