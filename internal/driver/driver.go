package driver

import (
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/capture"
	"github.com/sandrun/sandrun/internal/display"
	"github.com/sandrun/sandrun/internal/pytb"
	"github.com/sandrun/sandrun/lang"
)

//go:embed python.py
var pythonSource string

//go:embed javascript.js
var javascriptSource string

// MaxFrame caps a frame from the driver. Output chunks are at most 64 KiB
// (about 87 KiB in base64), so anything near this is a protocol violation.
const MaxFrame = 1 << 20

// Languages lists the languages (and runtimes) that have a driver.
func Languages() []string {
	var out []string
	for _, l := range lang.Known() {
		switch lang.Base(l.Name) {
		case lang.Python, lang.JavaScript, lang.Starlark:
			out = append(out, l.Name)
		}
	}
	return out
}

// Args returns the interpreter arguments (after the interpreter's path)
// that start the driver for language under a memory limit of memory
// bytes: the language's own flags, as the one-shot tiers use them, then
// the driver.
func Args(language string, memory int64) ([]string, error) {
	switch lang.Base(language) {
	case lang.Python:
		// -E: ignore PYTHON* variables; -s: no user site; -B: no .pyc
		// writes; -u: unbuffered.
		return []string{"-E", "-s", "-B", "-u", "-c", pythonDriver(language)}, nil
	case lang.JavaScript:
		// V8 sizes its heap from the flag (a little under the limit), so
		// an allocation bomb ends with node's own out-of-memory report.
		heap := max(memory*3/4>>20, 8)
		return []string{fmt.Sprintf("--max-old-space-size=%d", heap), "-e", javascriptSource}, nil
	case lang.Starlark:
		// Starlark's interpreter is the sandrun binary (see RoleStarlark).
		a := []string{"__child", RoleStarlark}
		if memory > 0 {
			a = append(a, fmt.Sprintf("--memory=%d", memory))
		}
		return a, nil
	}
	return nil, fmt.Errorf("no session driver for language %q (have python, javascript, starlark)", language)
}

// pythonDriver is the python driver with what it needs before its first
// line: the display module's source and the runtime's variables (the
// catalogue's Env, which a tier that starts the interpreter from an image
// would not set), as python literals (JSON's strings and objects of
// strings are python's).
func pythonDriver(language string) string {
	info, _ := lang.About(language)
	src, _ := json.Marshal(display.Source())
	env := info.Env
	if env == nil {
		env = map[string]string{}
	}
	envJSON, _ := json.Marshal(env)
	return "_DISPLAY_SOURCE = " + string(src) + "\n_RUNTIME_ENV = " + string(envJSON) + "\n" + pytb.Source + pythonSource
}

// ErrViolation marks a stream from the driver that breaks the protocol.
var ErrViolation = errors.New("protocol violation")

type frame struct {
	T     string `json:"t"`
	Step  int    `json:"step"`
	S     string `json:"s"`
	D     string `json:"d"`
	Kind  string `json:"kind"`
	Exit  int    `json:"exit"`
	Exc   string `json:"exc"`
	CPUMs int64  `json:"cpu_ms"`
	Lang  string `json:"lang"`
	PID   int    `json:"pid"`
	// End: the interpreter is ending after this done frame (an exit in
	// an interactive step).
	End    bool `json:"end"`
	data   []byte
	decErr error
}

// Conn is the supervisor's end of one driver. Steps run one at a time.
type Conn struct {
	p       sandrun.Launched
	frames  chan frame
	gone    chan struct{} // closed when the driver's stdout ends
	errMu   sync.Mutex
	err     error // why the stream ended
	stderr  *capture.Buffer
	errDone chan struct{} // the interpreter's stderr reached EOF

	mu   sync.Mutex // one step at a time
	next int
	dead bool
}

// Start attaches to a launched driver and waits for its ready frame.
func Start(ctx context.Context, p sandrun.Launched, ready time.Duration) (*Conn, error) {
	c := &Conn{
		p:       p,
		frames:  make(chan frame, 64),
		gone:    make(chan struct{}),
		stderr:  capture.New("stderr", 16<<10, nil, nil),
		errDone: make(chan struct{}),
	}
	go c.read()
	// The interpreter's own stderr (outside steps: crashes, fatal errors)
	// is drained into a small buffer so it can never block the process.
	go func() {
		defer close(c.errDone)
		_, _ = io.Copy(c.stderr, p.Stderr())
	}()
	t := time.NewTimer(ready)
	defer t.Stop()
	select {
	case f := <-c.frames:
		if f.T != "ready" {
			return nil, fmt.Errorf("driver: %w: first frame is %q, not ready", ErrViolation, f.T)
		}
		return c, nil
	case <-c.gone:
		tail := c.stderr.Bytes()
		if len(tail) > 1024 {
			tail = tail[:1024]
		}
		return nil, fmt.Errorf("driver: the interpreter ended before it was ready: %w; stderr: %q", c.streamErr(), tail)
	case <-t.C:
		return nil, fmt.Errorf("driver: not ready after %s", ready)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// DiedOfMemory says whether the interpreter's own stderr (outside steps)
// shows it ran out of memory: one of the language's OOM markers
// (lang.Info.OOMMarkers: the process tier's rlimits, node's heap flag,
// Go's data-segment cap), for launchers whose exit cannot tell.
func (c *Conn) DiedOfMemory(language string) bool {
	select { // the last words may still be in the pipe
	case <-c.errDone:
	case <-time.After(time.Second):
	}
	return DiedOfMemoryText(language, string(c.stderr.Bytes()))
}

// DiedOfMemoryText says whether an interpreter's stderr shows it ran out
// of memory.
func DiedOfMemoryText(language, stderr string) bool {
	info, _ := lang.About(language)
	for _, m := range info.OOMMarkers {
		if strings.Contains(stderr, m) {
			return true
		}
	}
	return false
}

// Alive reports whether the driver's stream is still open and no step
// has found it dead.
func (c *Conn) Alive() bool {
	select {
	case <-c.gone:
		return false
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.dead
}

// Stderr returns what the interpreter wrote to its own stderr outside
// steps (a bounded tail), for diagnostics.
func (c *Conn) Stderr() string { return c.stderr.Text() }

func (c *Conn) streamErr() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.err
}

func (c *Conn) read() {
	defer close(c.gone)
	r := c.p.Stdout()
	for {
		f, err := decodeFrame(r)
		if err != nil {
			c.setErr(err)
			return
		}
		c.frames <- f
	}
}

// decodeFrame decodes one frame from the driver's stdout. Everything in it
// is untrusted (the user's code can write to the protocol stream): a frame
// over MaxFrame or one that is not a JSON object is ErrViolation; an out
// chunk whose base64 is bad is returned with decErr set, so the step it
// claims to belong to fails.
func decodeFrame(r io.Reader) (frame, error) {
	b, err := readRaw(r, MaxFrame)
	if errors.Is(err, errFrameSize) {
		return frame{}, fmt.Errorf("%w: %v", ErrViolation, err)
	}
	if err != nil {
		return frame{}, err
	}
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		return frame{}, fmt.Errorf("%w: frame is not JSON: %w", ErrViolation, err)
	}
	if f.T == "out" {
		f.data, f.decErr = base64.StdEncoding.DecodeString(f.D)
		f.D = ""
	}
	return f, nil
}

var errFrameSize = errors.New("frame too large")

// readRaw reads one frame's payload (a 4-byte big-endian length, then the
// bytes), refusing a length over limit before allocating it.
func readRaw(r io.Reader, limit uint32) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > limit {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", errFrameSize, n, limit)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

func (c *Conn) setErr(err error) {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	c.errMu.Lock()
	c.err = err
	c.errMu.Unlock()
}

// Step is one piece of code to run.
type Step struct {
	Code  string
	Stdin string
	// Name is the file name shown in tracebacks.
	Name string
	// Args, when not nil, become the program's arguments (sys.argv[1:],
	// process.argv.slice(2)); Env is added to its environment.
	Args []string
	Env  map[string]string
	// Timeout is the step's wall-clock limit.
	Timeout time.Duration
	// Output caps each stream; past it the step is interrupted.
	Output int64
	// Grace is how long an interrupted step has to stop before the caller
	// must kill the interpreter.
	Grace time.Duration
	// OnOutput sees raw chunks as they arrive (streaming).
	OnOutput func(stream string, chunk []byte)
	// Interactive runs the step as a REPL line: expression values are
	// echoed (python's sys.displayhook, which also sets _; node's
	// completion value), and an exit (sys.exit, exit(), process.exit)
	// ends the interpreter with its code instead of ending the step. The
	// default Name is then "<stdin>", as in python's REPL.
	Interactive bool
}

// Outcome is how a step went.
type Outcome struct {
	// Result holds the step's output, status, exit code, message and wall
	// and CPU time.
	Result *sandrun.Result
	// Dead means the interpreter is gone or can no longer be trusted to
	// follow the protocol: the caller must Kill and Wait it, and take the
	// final status from the exit (Result then holds what the step got).
	Dead bool
	// Cause says why the interpreter is dead: ErrViolation, io.EOF (it
	// ended), or ErrUnresponsive (an interrupt did not stop the step).
	Cause error
	// Reason is why the supervisor interrupted the step, if it did:
	// sandrun.StatusTimeout or sandrun.StatusOutputLimit ("" if not).
	Reason sandrun.Status
}

// ErrUnresponsive: the step did not stop within the grace period after
// SIGINT.
var ErrUnresponsive = errors.New("the step did not stop when interrupted")

// Run runs one step. It never returns with the step still running: either
// the driver reported done, or the Outcome is Dead.
func (c *Conn) Run(ctx context.Context, st Step) Outcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	res := &sandrun.Result{ExitCode: -1}
	if c.dead {
		res.Status, res.Error = sandrun.StatusInternalError, "the interpreter is no longer running"
		return Outcome{Result: res, Dead: true, Cause: io.EOF}
	}
	c.next++
	id := c.next
	if st.Grace <= 0 {
		st.Grace = 2 * time.Second
	}
	if st.Name == "" {
		st.Name = fmt.Sprintf("<step %d>", id)
		if st.Interactive {
			st.Name = "<stdin>"
		}
	}
	overflow := make(chan string, 2)
	stdout := capture.New("stdout", st.Output, st.OnOutput, func() { overflow <- "stdout" })
	stderr := capture.New("stderr", st.Output, st.OnOutput, func() { overflow <- "stderr" })
	// What the step showed (display items, one JSON line each), capped
	// like a stream; past the cap items are dropped, the step goes on.
	shown := capture.New("display", st.Output, nil, nil)
	start := time.Now()
	finish := func(o Outcome) Outcome {
		o.Result = res
		res.Stdout, res.Stderr = stdout.Text(), stderr.Text()
		var notes []string
		res.Display, notes = display.Parse(shown.Bytes(), st.Output, shown.Overflowed())
		res.Warnings = append(res.Warnings, notes...)
		res.StdoutTruncated, res.StderrTruncated = stdout.Overflowed(), stderr.Overflowed()
		res.Usage.WallMs = time.Since(start).Milliseconds()
		if o.Dead {
			c.dead = true
		}
		return o
	}
	run := map[string]any{"t": "run", "step": id, "code": st.Code, "name": st.Name, "stdin": st.Stdin, "argv": st.Args, "env": st.Env}
	if st.Interactive {
		run["mode"] = "interactive"
	}
	msg, _ := json.Marshal(run)
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(msg)))
	if _, err := c.p.Stdin().Write(append(hdr[:], msg...)); err != nil {
		res.Status, res.Error = sandrun.StatusInternalError, "the interpreter is no longer reading its input"
		return finish(Outcome{Dead: true, Cause: io.EOF})
	}

	limit := time.NewTimer(st.Timeout)
	defer limit.Stop()
	var grace <-chan time.Time
	var reason sandrun.Status
	var stream string
	cancelled := false
	interrupt := func(why sandrun.Status) {
		if reason == "" {
			reason = why
		}
		if grace == nil {
			_ = c.p.Signal(syscall.SIGINT)
			grace = time.After(st.Grace)
		}
	}
	ctxDone := ctx.Done()
	for {
		select {
		case f := <-c.frames:
			if f.Step != id {
				continue // late output of an earlier step
			}
			switch f.T {
			case "out":
				if f.decErr != nil {
					res.Status, res.Error = sandrun.StatusInternalError, "protocol violation: bad output chunk"
					return finish(Outcome{Dead: true, Cause: ErrViolation})
				}
				switch f.S {
				case "o":
					stdout.Write(f.data)
				case "e":
					stderr.Write(f.data)
				case "d":
					shown.Write(f.data)
				}
			case "done":
				res.Usage.CPUMs = f.CPUMs
				decide(res, f, reason, stream, st)
				if cancelled {
					res.Error = "the step was cancelled by the caller and interrupted"
				}
				if f.End {
					// It is ending: every frame is in. It waits for its
					// input to close before it exits (so no frame is lost
					// to a Wait that closes the pipes); its exit is the
					// final word.
					if cl, ok := c.p.Stdin().(io.Closer); ok {
						_ = cl.Close()
					}
					return finish(Outcome{Dead: true, Cause: io.EOF, Reason: reason})
				}
				return finish(Outcome{Reason: reason})
			default:
				res.Status, res.Error = sandrun.StatusInternalError, fmt.Sprintf("protocol violation: unexpected frame %q", f.T)
				return finish(Outcome{Dead: true, Cause: ErrViolation})
			}
		case s := <-overflow:
			if stream == "" {
				stream = s
			}
			interrupt(sandrun.StatusOutputLimit)
		case <-limit.C:
			interrupt(sandrun.StatusTimeout)
		case <-ctxDone:
			ctxDone = nil
			cancelled = reason == ""
			interrupt(sandrun.StatusTimeout)
		case <-grace:
			res.Status = reason
			res.Error = fmt.Sprintf("the step did not stop within %s of being interrupted, so its interpreter was killed", st.Grace)
			return finish(Outcome{Dead: true, Cause: ErrUnresponsive, Reason: reason})
		case <-c.gone:
			// The stream ended; take what was queued before the end.
		drain:
			for {
				select {
				case f := <-c.frames:
					if f.Step == id && f.T == "out" && f.decErr == nil {
						if f.S == "o" {
							stdout.Write(f.data)
						} else {
							stderr.Write(f.data)
						}
					}
				default:
					break drain
				}
			}
			cause := c.streamErr()
			res.Status = reason
			if errors.Is(cause, ErrViolation) {
				res.Status, res.Error = sandrun.StatusInternalError, cause.Error()
			}
			return finish(Outcome{Dead: true, Cause: cause, Reason: reason})
		}
	}
}

// decide maps the driver's done frame, and any interrupt the supervisor
// sent, to a status. The supervisor's own reason wins over what the
// driver says.
func decide(res *sandrun.Result, f frame, reason sandrun.Status, stream string, st Step) {
	res.ExitCode = f.Exit
	switch {
	case reason == sandrun.StatusOutputLimit:
		res.Status = reason
		res.Error = fmt.Sprintf("the step wrote more than %s to %s and was interrupted", sandrun.Bytes(st.Output), stream)
	case reason == sandrun.StatusTimeout:
		res.Status = reason
		res.Error = fmt.Sprintf("the step ran longer than %s and was interrupted", st.Timeout)
	case f.Kind == "ok":
		res.Status, res.ExitCode = sandrun.StatusOK, 0
	case f.Kind == "syntax":
		res.Status = sandrun.StatusCompileError
		res.Error = "the code does not compile"
	case f.Kind == "memory":
		res.Status = sandrun.StatusMemoryLimit
		res.Error = "the code could not allocate memory within its memory limit"
	case f.Kind == "exit":
		res.Status = sandrun.StatusExitError
		res.Error = fmt.Sprintf("the step exited with code %d", f.Exit)
	case f.Kind == "interrupted":
		// A SIGINT the supervisor did not send (the code signalled itself).
		res.Status = sandrun.StatusExitError
		res.Error = "the step was interrupted"
	default:
		res.Status = sandrun.StatusExitError
		if f.Exc != "" {
			res.Error = fmt.Sprintf("the step raised %s", f.Exc)
		} else {
			res.Error = "the step failed"
		}
	}
	if res.ExitCode == 0 && res.Status != sandrun.StatusOK {
		res.ExitCode = 1
	}
}
