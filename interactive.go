package sandrun

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// Interactive runs (Request.Input, Request.Signals): the program's
// standard input arrives as it comes, and signals reach it while it runs.
// Piston's WebSocket /api/v2/connect is built on them. Only backends that
// implement Interactive take such a run; the pipeline refuses it on any
// other tier (fail closed: a tier that would ignore Input would run the
// program without the input its caller is sending).

// Interactive is implemented by backends that feed Request.Input to the
// program as it comes and deliver Request.Signals to it. RunsInteractive
// reports why it cannot here (nil: it can).
type Interactive interface {
	RunsInteractive() error
}

// IsInteractive reports whether the run streams input or signals.
func (r *Request) IsInteractive() bool { return r.Input != nil || r.Signals != nil }

// StdinReader is what a backend copies to the program's standard input:
// Stdin, then Input as it comes when the run is interactive.
func (r *Request) StdinReader() io.Reader {
	in := strings.NewReader(r.Stdin)
	if r.Input == nil {
		return in
	}
	return io.MultiReader(in, r.Input)
}

// ForwardSignals calls send with each of r.Signals until done closes; a
// backend runs it beside an interactive program.
func (r *Request) ForwardSignals(done <-chan struct{}, send func(os.Signal)) {
	if r.Signals == nil {
		return
	}
	for {
		select {
		case sig := <-r.Signals:
			send(sig)
		case <-done:
			return
		}
	}
}

// checkInteractive refuses an interactive run on a backend that cannot
// take it.
func checkInteractive(b Backend, req *Request) error {
	if !req.IsInteractive() {
		return nil
	}
	return requireTier(b, "backend", "run a program interactively", "input as it comes, signals", "the jail or process tier", Interactive.RunsInteractive)
}

// requireTier refuses, naming field, a request that needs what the
// backend b cannot do: b must implement C (else the error says why not,
// and which tiers to use instead) and ready must pass on it here.
func requireTier[C any](b Backend, field, what, why, use string, ready func(C) error) error {
	c, ok := b.(C)
	if !ok {
		return &RequestError{Field: field, Msg: fmt.Sprintf("the %s tier cannot %s (%s); use %s", b.Name(), what, why, use)}
	}
	if err := ready(c); err != nil {
		return &RequestError{Field: field, Msg: fmt.Sprintf("the %s tier cannot %s here: %v", b.Name(), what, err)}
	}
	return nil
}
