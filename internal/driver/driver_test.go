package driver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
)

// rawFrame is a length header and payload as the driver writes them.
func rawFrame(payload string) []byte {
	b := make([]byte, 4, 4+len(payload))
	binary.BigEndian.PutUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

func jsonFrame(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return rawFrame(string(b))
}

func outFrame(t testing.TB, step int, stream, data string) []byte {
	return jsonFrame(t, map[string]any{"t": "out", "step": step, "s": stream, "d": base64.StdEncoding.EncodeToString([]byte(data))})
}

func TestDecodeFrame(t *testing.T) {
	big := make([]byte, 4)
	binary.BigEndian.PutUint32(big, MaxFrame+1)
	for _, tc := range []struct {
		name      string
		in        []byte
		violation bool
		eof       bool
		check     func(t *testing.T, f frame)
	}{
		{name: "ready", in: rawFrame(`{"t":"ready","lang":"x","pid":7}`), check: func(t *testing.T, f frame) {
			if f.T != "ready" || f.PID != 7 {
				t.Errorf("got %+v", f)
			}
		}},
		{name: "out", in: outFrame(t, 3, "e", "hi\x00\xff"), check: func(t *testing.T, f frame) {
			if f.Step != 3 || f.S != "e" || string(f.data) != "hi\x00\xff" || f.decErr != nil || f.D != "" {
				t.Errorf("got %+v", f)
			}
		}},
		{name: "out with bad base64", in: rawFrame(`{"t":"out","step":1,"s":"o","d":"!!"}`), check: func(t *testing.T, f frame) {
			if f.decErr == nil {
				t.Errorf("bad base64 decoded: %+v", f)
			}
		}},
		// The header alone claims past the cap: refused before the body is
		// read or allocated (no body follows here at all).
		{name: "over the cap", in: big, violation: true},
		{name: "not JSON", in: rawFrame(`hello`), violation: true},
		{name: "JSON but not an object", in: rawFrame(`[1]`), violation: true},
		{name: "wrong field type", in: rawFrame(`{"t":"done","step":"x"}`), violation: true},
		{name: "empty stream", in: nil, eof: true},
		{name: "short header", in: []byte{0, 0}, eof: true},
		{name: "short body", in: rawFrame(`{"t":"ready"}`)[:8], eof: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := decodeFrame(bytes.NewReader(tc.in))
			switch {
			case tc.violation:
				if !errors.Is(err, ErrViolation) {
					t.Fatalf("err = %v, want a protocol violation", err)
				}
			case tc.eof:
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("err = %v, want EOF", err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, f)
			}
		})
	}
}

// FuzzDecodeFrame: whatever the code inside the sandbox writes to the
// protocol stream, the supervisor gets frames or an error, never a panic,
// and never allocates past MaxFrame for one frame.
func FuzzDecodeFrame(f *testing.F) {
	f.Add(rawFrame(`{"t":"ready","lang":"python","pid":7}`))
	f.Add(append(outFrame(f, 1, "o", "hello\n"), rawFrame(`{"t":"done","step":1,"kind":"ok","exit":0,"cpu_ms":3}`)...))
	f.Add(rawFrame(`{"t":"out","step":1,"s":"o","d":"***"}`))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0, 2, '{', '}', 0})
	f.Add(rawFrame(`{"t":"done","step":1e99}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for {
			fr, err := decodeFrame(r)
			if err != nil {
				return
			}
			if len(fr.data) > MaxFrame || fr.D != "" && fr.T == "out" {
				t.Fatalf("frame %+v", fr)
			}
		}
	})
}

// fakeDriver is a Launched whose stdout the test writes frames into and
// whose stdin (the run frames) it reads.
type fakeDriver struct {
	stdinR  *io.PipeReader
	stdinW  *io.PipeWriter
	stdoutR *io.PipeReader
	stdoutW *io.PipeWriter
	signals chan os.Signal
	once    sync.Once
}

func newFake(t *testing.T) *fakeDriver {
	d := &fakeDriver{signals: make(chan os.Signal, 8)}
	d.stdinR, d.stdinW = io.Pipe()
	d.stdoutR, d.stdoutW = io.Pipe()
	t.Cleanup(func() { _ = d.Kill() })
	return d
}

func (d *fakeDriver) Stdin() io.Writer                   { return d.stdinW }
func (d *fakeDriver) Stdout() io.Reader                  { return d.stdoutR }
func (d *fakeDriver) Stderr() io.Reader                  { return strings.NewReader("") }
func (d *fakeDriver) Signal(s os.Signal) error           { d.signals <- s; return nil }
func (d *fakeDriver) SetLimits(sandrun.Limits) error     { return nil }
func (d *fakeDriver) Wait() (*sandrun.LaunchExit, error) { return &sandrun.LaunchExit{}, nil }
func (d *fakeDriver) WorkDir() string                    { return "" }
func (d *fakeDriver) Kill() error {
	d.once.Do(func() {
		_ = d.stdoutW.Close()
		_ = d.stdinR.Close()
	})
	return nil
}

// send writes frames as the driver; it runs in its own goroutine because
// the pipe blocks until Conn reads.
func (d *fakeDriver) send(frames ...[]byte) <-chan error {
	done := make(chan error, 1)
	go func() {
		var err error
		for _, f := range frames {
			if _, err = d.stdoutW.Write(f); err != nil {
				break
			}
		}
		done <- err
	}()
	return done
}

// nextRun reads the run frame the supervisor sent.
func (d *fakeDriver) nextRun(t *testing.T) map[string]any {
	t.Helper()
	b, err := readRaw(d.stdinR, MaxFrame)
	if err != nil {
		t.Fatalf("reading the run frame: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func startFake(t *testing.T) (*fakeDriver, *Conn) {
	t.Helper()
	d := newFake(t)
	d.send(rawFrame(`{"t":"ready","lang":"x","pid":1}`))
	c, err := Start(context.Background(), d, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return d, c
}

// runAsync runs a step and hands back the outcome on a channel, so the test
// can play the driver meanwhile.
func runAsync(c *Conn, st Step) <-chan Outcome {
	ch := make(chan Outcome, 1)
	go func() { ch <- c.Run(context.Background(), st) }()
	return ch
}

func wait(t *testing.T, ch <-chan Outcome) Outcome {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(30 * time.Second):
		t.Fatal("the step never returned")
		return Outcome{}
	}
}

func TestStartRefusesAnotherFirstFrame(t *testing.T) {
	d := newFake(t)
	d.send(outFrame(t, 1, "o", "x"))
	_, err := Start(context.Background(), d, 10*time.Second)
	if !errors.Is(err, ErrViolation) {
		t.Fatalf("err = %v, want a protocol violation", err)
	}
}

func TestStepOutputAndDone(t *testing.T) {
	d, c := startFake(t)
	ch := runAsync(c, Step{Code: "print(1)", Timeout: time.Minute, Output: 1 << 20})
	run := d.nextRun(t)
	if run["t"] != "run" || run["code"] != "print(1)" || run["step"] != float64(1) {
		t.Fatalf("run frame %v", run)
	}
	// A late chunk of another step, and a forged frame for step 9, are
	// not this step's output.
	d.send(outFrame(t, 0, "o", "stale"), outFrame(t, 9, "o", "forged"),
		outFrame(t, 1, "o", "one\n"), outFrame(t, 1, "e", "warn\n"),
		rawFrame(`{"t":"done","step":1,"kind":"ok","exit":0,"cpu_ms":4}`))
	o := wait(t, ch)
	r := o.Result
	if o.Dead || r.Status != sandrun.StatusOK || r.Stdout != "one\n" || r.Stderr != "warn\n" || r.Usage.CPUMs != 4 {
		t.Fatalf("outcome %+v result %+v", o, r)
	}
}

func TestStepExitStatuses(t *testing.T) {
	for _, tc := range []struct {
		done   string
		status sandrun.Status
		exit   int
	}{
		{`{"t":"done","step":1,"kind":"exit","exit":3}`, sandrun.StatusExitError, 3},
		{`{"t":"done","step":1,"kind":"syntax"}`, sandrun.StatusCompileError, 1},
		{`{"t":"done","step":1,"kind":"memory"}`, sandrun.StatusMemoryLimit, 1},
		{`{"t":"done","step":1,"kind":"exception","exc":"ValueError"}`, sandrun.StatusExitError, 1},
		// The driver cannot claim a limit the supervisor did not enforce.
		{`{"t":"done","step":1,"kind":"timeout"}`, sandrun.StatusExitError, 1},
	} {
		d, c := startFake(t)
		ch := runAsync(c, Step{Code: "x", Timeout: time.Minute, Output: 1 << 20})
		d.nextRun(t)
		d.send(rawFrame(tc.done))
		o := wait(t, ch)
		if o.Dead || o.Result.Status != tc.status || o.Result.ExitCode != tc.exit {
			t.Errorf("%s: status %s exit %d dead %v, want %s %d", tc.done, o.Result.Status, o.Result.ExitCode, o.Dead, tc.status, tc.exit)
		}
	}
}

// A frame that breaks the protocol ends the interpreter: the step is
// internal_error and the connection is dead for later steps.
func TestViolationsKillTheDriver(t *testing.T) {
	for name, bad := range map[string][]byte{
		"not JSON":       rawFrame("garbage"),
		"bad base64":     rawFrame(`{"t":"out","step":1,"s":"o","d":"%%"}`),
		"unknown type":   rawFrame(`{"t":"exec","step":1}`),
		"too large":      {0x7f, 0, 0, 0},
		"ready mid-step": rawFrame(`{"t":"ready","step":1}`),
	} {
		t.Run(name, func(t *testing.T) {
			d, c := startFake(t)
			ch := runAsync(c, Step{Code: "x", Timeout: time.Minute, Output: 1 << 20})
			d.nextRun(t)
			d.send(bad)
			o := wait(t, ch)
			if !o.Dead || o.Result.Status != sandrun.StatusInternalError || !strings.Contains(o.Result.Error, "protocol violation") {
				t.Fatalf("outcome dead=%v cause=%v status=%s error=%q", o.Dead, o.Cause, o.Result.Status, o.Result.Error)
			}
			if c.Alive() {
				t.Fatal("the connection is still alive after a violation")
			}
			again := c.Run(context.Background(), Step{Code: "y", Timeout: time.Minute})
			if !again.Dead || again.Result.Status != sandrun.StatusInternalError {
				t.Fatalf("a later step ran on a dead driver: %+v", again.Result)
			}
		})
	}
}

// The supervisor, not the driver, decides timeout and output_limit: it
// interrupts with SIGINT and the status is its own whatever done says.
func TestSupervisorLimitsWin(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		d, c := startFake(t)
		ch := runAsync(c, Step{Code: "x", Timeout: 50 * time.Millisecond, Output: 1 << 20, Grace: time.Minute})
		d.nextRun(t)
		select {
		case s := <-d.signals:
			if s != syscall.SIGINT {
				t.Fatalf("signal %v, want SIGINT", s)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no interrupt after the timeout")
		}
		d.send(rawFrame(`{"t":"done","step":1,"kind":"ok"}`))
		o := wait(t, ch)
		if o.Dead || o.Result.Status != sandrun.StatusTimeout || o.Reason != sandrun.StatusTimeout {
			t.Fatalf("outcome %+v result %+v", o, o.Result)
		}
	})
	t.Run("output", func(t *testing.T) {
		d, c := startFake(t)
		ch := runAsync(c, Step{Code: "x", Timeout: time.Minute, Output: 4, Grace: time.Minute})
		d.nextRun(t)
		d.send(outFrame(t, 1, "o", "0123456789"))
		<-d.signals
		d.send(rawFrame(`{"t":"done","step":1,"kind":"interrupted"}`))
		o := wait(t, ch)
		if o.Result.Status != sandrun.StatusOutputLimit || !strings.HasPrefix(o.Result.Stdout, "0123\n[OUTPUT TRUNCATED") || !o.Result.StdoutTruncated {
			t.Fatalf("result %+v", o.Result)
		}
	})
	t.Run("unresponsive", func(t *testing.T) {
		d, c := startFake(t)
		ch := runAsync(c, Step{Code: "x", Timeout: 10 * time.Millisecond, Output: 1 << 20, Grace: 10 * time.Millisecond})
		d.nextRun(t)
		o := wait(t, ch)
		if !o.Dead || !errors.Is(o.Cause, ErrUnresponsive) || o.Result.Status != sandrun.StatusTimeout {
			t.Fatalf("outcome %+v result %+v", o, o.Result)
		}
	})
}

// The stream ending mid-step keeps the output that came before it.
func TestDriverGoneMidStep(t *testing.T) {
	d, c := startFake(t)
	ch := runAsync(c, Step{Code: "x", Timeout: time.Minute, Output: 1 << 20})
	d.nextRun(t)
	if err := <-d.send(outFrame(t, 1, "o", "partial")); err != nil {
		t.Fatal(err)
	}
	_ = d.Kill()
	o := wait(t, ch)
	if !o.Dead || !errors.Is(o.Cause, io.EOF) || o.Result.Stdout != "partial" {
		t.Fatalf("outcome %+v result %+v", o, o.Result)
	}
}
