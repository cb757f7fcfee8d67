package restricted

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/driver"
	"go.starlark.net/starlark"
)

// Child roles, the argument after "__child" on the sandrun command line.
const (
	RoleWorker = "starlark"              // a warm worker serving the frame protocol on stdin/stdout
	RoleFile   = driver.RoleStarlarkFile // run one file, for the OS tiers (--lang starlark)
	RoleProbe  = "starlark-probe"        // print what this binary runs, for the language registry
)

// ChildMain runs a child role; args[0] is the role. It returns the exit
// code. cmd/sandrun's childMain (and tests' TestMain) dispatch to it.
func ChildMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "restricted: no child role")
		return 70
	}
	switch args[0] {
	case RoleWorker:
		return serveWorker(os.Stdin, os.Stdout)
	case RoleFile:
		return runFile(args[1:], os.Stdin, os.Stdout, os.Stderr)
	case RoleProbe:
		b, _ := json.Marshal(map[string]string{"version": starlarkVersion()})
		fmt.Println(string(b))
		return 0
	}
	fmt.Fprintf(os.Stderr, "restricted: unknown child role %q\n", args[0])
	return 70
}

// IsRole reports whether role is one of this package's child roles.
func IsRole(role string) bool {
	return role == RoleWorker || role == RoleFile || role == RoleProbe
}

func starlarkVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "go.starlark.net" {
				return d.Version
			}
		}
	}
	return "unknown"
}

// maxRunFrame caps a run frame as the worker reads it: the code (at most
// the request cap, 1 MiB by default) plus the host declarations.
const maxRunFrame = 256 << 20

// serveWorker is the worker's side of the protocol in doc.go.
func serveWorker(r io.Reader, w io.Writer) int {
	if err := prepareWorker(); err != nil {
		fmt.Fprintf(os.Stderr, "restricted worker: %v\n", err)
		return 71
	}
	br := bufio.NewReaderSize(r, 64<<10)
	bw := bufio.NewWriterSize(w, 64<<10)
	peak := openPeakMark()
	peak.reset()
	cpu, _ := selfUsage()
	if err := writeJSON(bw, frameHello, helloMsg{PID: os.Getpid(), Version: starlarkVersion(), CPUNanos: cpu.Nanoseconds()}); err != nil {
		return 72
	}
	for {
		kind, p, err := readFrame(br, maxRunFrame)
		if errors.Is(err, io.EOF) {
			return 0 // the parent closed our stdin: retire
		}
		if err != nil || kind != frameRun {
			fmt.Fprintf(os.Stderr, "restricted worker: protocol: %v (kind %q)\n", err, kind)
			return 73
		}
		var m runMsg
		if err := json.Unmarshal(p, &m); err != nil {
			fmt.Fprintf(os.Stderr, "restricted worker: bad run frame: %v\n", err)
			return 73
		}
		p = nil
		done := workerRun(&m, br, bw)
		if err := writeJSON(bw, frameDone, done); err != nil {
			return 74
		}
		afterRun(peak)
	}
}

// workerRun executes one run frame.
func workerRun(m *runMsg, br *bufio.Reader, bw *bufio.Writer) doneMsg {
	if m.Spec.Memory > 0 {
		debug.SetMemoryLimit(m.Spec.Memory)
	}
	out := &frameSink{w: bw, limit: m.Spec.Output, last: time.Now()}
	var decls []hostDecl
	if len(m.Host) > 0 {
		if err := json.Unmarshal(m.Host, &decls); err != nil {
			return doneMsg{Outcome: outcome{Status: sandrun.StatusInternalError, Error: "bad host declarations: " + err.Error()}}
		}
	}
	broken := false
	call := func(id int, name string, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if broken {
			return nil, errors.New("the host connection is gone")
		}
		msg, err := encodeCall(id, args, kwargs, m.MaxHostArgBytes)
		if err != nil {
			return nil, fmt.Errorf("%s: arguments: %w", name, err)
		}
		out.flush()
		if err := writeJSON(bw, frameCall, msg); err != nil {
			broken = true
			return nil, fmt.Errorf("%s: host unreachable: %w", name, err)
		}
		kind, p, err := readFrame(br, m.MaxHostArgBytes+maxFrameSlack)
		if err != nil || kind != frameReturn {
			broken = true
			return nil, fmt.Errorf("%s: no answer from the host: %w", name, err)
		}
		var ret returnMsg
		if err := json.Unmarshal(p, &ret); err != nil {
			return nil, fmt.Errorf("%s: bad answer from the host: %w", name, err)
		}
		if ret.Error != "" {
			return nil, errors.New(ret.Error)
		}
		if ret.Value == nil {
			return starlark.None, nil
		}
		return decodeWire(*ret.Value, 0)
	}
	host, err := materialize(decls, call)
	if err != nil {
		return doneMsg{Outcome: outcome{Status: sandrun.StatusInternalError, Error: err.Error()}}
	}
	oc := execute(context.Background(), &m.Spec, globalsFor(m.Spec.Modules, host), out)
	out.flush()
	cpu, peak := selfUsage()
	return doneMsg{Outcome: oc, CPUNanos: cpu.Nanoseconds(), PeakRSS: peak}
}

// globalsFor is the program's predeclared environment: the allowlisted
// modules and the host globals.
func globalsFor(modules []string, host starlark.StringDict) starlark.StringDict {
	g := make(starlark.StringDict, len(extraBuiltins)+len(modules)+len(host))
	for k, v := range extraBuiltins {
		g[k] = v
	}
	for _, m := range modules {
		if v, ok := nativeModules[m]; ok {
			g[m] = v
		}
	}
	for k, v := range host {
		g[k] = v
	}
	return g
}

// frameSink forwards print output to the parent in out frames: batched,
// flushed when 32 KiB are pending or 20 ms have passed (so output before a
// kill is not lost), and cut one byte past the cap so the parent sees the
// overflow.
type frameSink struct {
	w     *bufio.Writer
	limit int64
	total int64
	pend  []byte
	last  time.Time
}

func (s *frameSink) writeLine(line string) bool {
	for _, p := range [2]string{line, "\n"} {
		if room := s.limit + 1 - s.total; room > 0 {
			s.pend = append(s.pend, p[:min(int64(len(p)), room)]...)
		}
		s.total += int64(len(p))
	}
	if len(s.pend) >= 32<<10 || time.Since(s.last) > 20*time.Millisecond {
		s.flush()
		_ = s.w.Flush()
	}
	return s.total <= s.limit
}

// flush moves pending output into out frames in the buffered writer; the
// next flushed frame (a call, the done frame) sends them in the same
// write.
func (s *frameSink) flush() {
	for len(s.pend) > 0 {
		n := min(len(s.pend), maxOutFrame)
		if err := bufferFrame(s.w, frameOut, s.pend[:n]); err != nil {
			s.pend = nil
			break
		}
		s.pend = s.pend[n:]
	}
	s.pend = s.pend[:0:0]
	s.last = time.Now()
}

// writerSink writes print output straight to a file (the OS tiers capture
// and cap it).
type writerSink struct{ w io.Writer }

func (s writerSink) writeLine(line string) bool {
	_, err := io.WriteString(s.w, line+"\n")
	return err == nil
}

// runFile is the starlark-file role: sandrun as the Starlark interpreter
// of the OS tiers. The environment is the restricted tier's default one
// (allowlisted modules and the seed's math environment, no wall clock);
// limits other than memory and call depth are the OS tier's. With
// --program it is a warm pool's interpreter (internal/driver's program
// mode): started ahead with its limits, it waits for its run's frame on
// stdin before it reads FILE, and then runs it exactly as a cold start.
func runFile(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(RoleFile, flag.ContinueOnError)
	fs.SetOutput(stderr)
	heapMiB := fs.Int64("heap-mib", 0, "memory for the interpreter's heap in MiB (0: no limit of its own)")
	program := fs.Bool("program", false, "wait for the run's frame on stdin before reading FILE (a warm pool's interpreter)")
	if err := fs.Parse(args); err != nil || fs.NArg() < 1 {
		fmt.Fprintln(stderr, "usage: sandrun __child starlark-file [--program] [--heap-mib N] FILE [ARGS...]")
		return 2
	}
	if *heapMiB > 0 {
		if err := limitData((*heapMiB << 20) + DefaultRuntimeReserve + raceReserve); err != nil {
			fmt.Fprintf(stderr, "sandrun starlark: cannot apply the memory limit: %v\n", err)
			return 71
		}
		debug.SetMemoryLimit(*heapMiB << 20)
	}
	if *program {
		// A Starlark program has no argv, environment or stdin: the frame
		// only says the run's file is in place.
		if _, err := driver.WaitProgram(stdin, stderr); errors.Is(err, io.EOF) {
			return 0 // the pool gave up on this interpreter
		} else if err != nil {
			fmt.Fprintf(stderr, "sandrun starlark: %v\n", err)
			return 70
		}
	}
	file := fs.Arg(0)
	code, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(stderr, "sandrun starlark: %v\n", err)
		return 2
	}
	spec := &runSpec{
		Code: string(code), FileName: filepath.Base(file), Dialect: DefaultDialect(),
		Modules: DefaultModules(), MaxDepth: DefaultMaxCallDepth, Output: 1 << 62,
	}
	oc := execute(context.Background(), spec, globalsFor(spec.Modules, MathEnv()), writerSink{stdout})
	io.WriteString(stderr, oc.Stderr)
	switch oc.Status {
	case sandrun.StatusOK:
		return 0
	case sandrun.StatusCompileError:
		return 2
	}
	return 1
}
