package restricted

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"go.starlark.net/starlark"
)

// Frame kinds of the parent/worker protocol (see doc.go).
const (
	frameHello  = 'H' // worker -> parent, once, when ready: helloMsg
	frameRun    = 'R' // parent -> worker: runMsg
	frameOut    = 'O' // worker -> parent: raw stdout bytes
	frameCall   = 'C' // worker -> parent: callMsg (a host function call)
	frameReturn = 'V' // parent -> worker: returnMsg (the call's answer)
	frameDone   = 'D' // worker -> parent: doneMsg, ends a run
)

// Frame size caps. A frame over its cap is a protocol violation: the
// reader stops and the worker is discarded. Neither side ever allocates
// more than the cap for one frame.
const (
	maxOutFrame   = 64 << 10
	maxFrameSlack = 64 << 10 // room for the JSON around a capped payload
)

type helloMsg struct {
	PID     int    `json:"pid"`
	Version string `json:"version"`
	// CPUNanos is the worker's CPU time at start (see doneMsg).
	CPUNanos int64 `json:"cpu_nanos"`
}

type runMsg struct {
	Spec runSpec         `json:"spec"`
	Host json.RawMessage `json:"host,omitempty"` // []hostDecl
	// MaxHostArgBytes caps one call's encoded arguments.
	MaxHostArgBytes int `json:"max_host_arg_bytes"`
}

type callMsg struct {
	Func   int      `json:"func"`
	Args   []wire   `json:"args"`
	Kwargs []kwWire `json:"kwargs,omitempty"`
}

type kwWire struct {
	Name  string `json:"name"`
	Value wire   `json:"value"`
}

type returnMsg struct {
	Value *wire  `json:"value,omitempty"`
	Error string `json:"error,omitempty"`
}

type doneMsg struct {
	Outcome outcome `json:"outcome"`
	// CPUNanos is the worker's whole CPU time so far (user + system); the
	// parent takes differences.
	CPUNanos int64 `json:"cpu_nanos"`
	// PeakRSS is the worker's peak resident set during this run, bytes
	// (the high-water mark is reset before every run).
	PeakRSS int64 `json:"peak_rss"`
}

// writeFrame writes one frame and flushes.
func writeFrame(w *bufio.Writer, kind byte, payload []byte) error {
	if err := bufferFrame(w, kind, payload); err != nil {
		return err
	}
	return w.Flush()
}

// bufferFrame writes one frame without flushing: a 4-byte big-endian
// length of what follows, the kind byte, the payload.
func bufferFrame(w *bufio.Writer, kind byte, payload []byte) error {
	var hdr [5]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(payload)+1))
	hdr[4] = kind
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

func writeJSON(w *bufio.Writer, kind byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeFrame(w, kind, b)
}

// errOversize marks a frame over its cap (or of length 0).
var errOversize = errors.New("protocol")

// readFrame reads one frame whose payload is at most max bytes.
func readFrame(r *bufio.Reader, max int) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:4]))
	if n < 1 || n-1 > max {
		return 0, nil, fmt.Errorf("%w: frame of %d bytes (kind %q) over the %d-byte cap", errOversize, n, hdr[4], max)
	}
	p := make([]byte, n-1)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, fmt.Errorf("protocol: short frame: %w", err)
	}
	return hdr[4], p, nil
}

// encodeCall turns a host call's arguments into a callMsg within budget.
func encodeCall(id int, args starlark.Tuple, kwargs []starlark.Tuple, budget int) (*callMsg, error) {
	e := &encoder{left: budget}
	m := &callMsg{Func: id, Args: make([]wire, 0, len(args))}
	for _, a := range args {
		w, err := e.value(a, 0)
		if err != nil {
			return nil, budgetErr(err, budget)
		}
		m.Args = append(m.Args, w)
	}
	for _, kv := range kwargs {
		w, err := e.value(kv[1], 0)
		if err != nil {
			return nil, budgetErr(err, budget)
		}
		name, _ := starlark.AsString(kv[0])
		if err := e.spend(len(name)); err != nil {
			return nil, budgetErr(err, budget)
		}
		m.Kwargs = append(m.Kwargs, kwWire{Name: name, Value: w})
	}
	return m, nil
}

func budgetErr(err error, budget int) error {
	if _, ok := err.(*tooLargeError); ok {
		return &tooLargeError{budget}
	}
	return err
}

// decodeCall is the parent's side of encodeCall.
func decodeCall(m *callMsg) (starlark.Tuple, []starlark.Tuple, error) {
	args := make(starlark.Tuple, 0, len(m.Args))
	for _, w := range m.Args {
		v, err := decodeWire(w, 0)
		if err != nil {
			return nil, nil, err
		}
		args = append(args, v)
	}
	var kwargs []starlark.Tuple
	for _, kw := range m.Kwargs {
		v, err := decodeWire(kw.Value, 0)
		if err != nil {
			return nil, nil, err
		}
		kwargs = append(kwargs, starlark.Tuple{starlark.String(kw.Name), v})
	}
	return args, kwargs, nil
}
