package driver

import (
	"bufio"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sandrun/sandrun/internal/racebuild"
	"github.com/sandrun/sandrun/internal/starlib"
	"github.com/sandrun/sandrun/lang"
	starjson "go.starlark.net/lib/json"
	starmath "go.starlark.net/lib/math"
	startime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// RoleStarlark is the child role (`sandrun __child starlark-session`) of
// the Starlark session driver: the sandrun binary is Starlark's
// interpreter on the OS tiers (backend/restricted's LanguageSpec), so a
// Starlark session is a jailed sandrun process running this driver.
const RoleStarlark = "starlark-session"

// StarlarkMain is the Starlark driver: the same frames as python.py and
// javascript.js, with the session's globals kept between steps
// (starlark.ExecREPLChunk). Starlark has no I/O, so a program cannot
// reach the protocol stream at all: print() is the only output. args may
// hold "--memory=BYTES", the data-segment cap.
func StarlarkMain(args []string) int {
	var memLimit int64
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--memory="); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				fmt.Fprintf(os.Stderr, "starlark driver: bad %s\n", a)
				return 70
			}
			// Go reserves too much address space for RLIMIT_AS; the data
			// segment and the GC's soft limit bound the heap instead. The
			// data segment also holds what the process had mapped before
			// the program ran (thread stacks, the runtime's first arenas:
			// about 125 MiB with Go 1.26, more than the old fixed 64 MiB
			// reserve, so a bomb crashed the runtime after a few MiB) and
			// room for the runtime's metadata as the heap grows. The heap
			// check (heapCheck) stops a step at the limit itself, long
			// before this cap; the jail's cgroup still bounds the whole.
			if err := limitData(dataInUse() + n + 64<<20 + racebuild.DataReserve); err != nil {
				fmt.Fprintf(os.Stderr, "starlark driver: RLIMIT_DATA: %v\n", err)
				return 71
			}
			debug.SetMemoryLimit(n * 3 / 4)
			memLimit = n
		}
	}
	out := &frameWriter{w: bufio.NewWriterSize(os.Stdout, 64<<10)}
	globals := starlark.StringDict{
		"json": starjson.Module, "math": starmath.Module, "time": startime.Module,
	}
	for k, v := range starlib.MathEnv() {
		globals[k] = v
	}
	var (
		mu  sync.Mutex
		cur *starlark.Thread
	)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	go func() {
		for range sigs {
			mu.Lock()
			if cur != nil {
				cur.Cancel("interrupted (SIGINT)")
			}
			mu.Unlock()
		}
	}()
	opts := &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true, Recursion: true}
	if err := out.send(map[string]any{"t": "ready", "lang": lang.Starlark, "pid": os.Getpid()}); err != nil {
		return 72
	}
	in := bufio.NewReaderSize(os.Stdin, 64<<10)
	for {
		var msg struct {
			T    string `json:"t"`
			Step int    `json:"step"`
			Code string `json:"code"`
			Name string `json:"name"`
		}
		if err := readFrame(in, &msg); err != nil {
			if errors.Is(err, io.EOF) {
				return 0
			}
			fmt.Fprintf(os.Stderr, "starlark driver: %v\n", err)
			return 73
		}
		if msg.T != "run" {
			continue
		}
		step := msg.Step
		th := &starlark.Thread{Name: "session", Print: func(_ *starlark.Thread, s string) {
			_ = out.send(map[string]any{"t": "out", "step": step, "s": "o", "d": base64.StdEncoding.EncodeToString([]byte(s + "\n"))})
		}}
		th.SetLocal("start", time.Now())
		done := map[string]any{"t": "done", "step": step, "kind": "ok", "exit": 0}
		t0 := cpuTime()
		f, err := opts.Parse(orName(msg.Name), msg.Code, 0)
		if err != nil {
			done["kind"], done["exit"] = "syntax", 1
		} else {
			mu.Lock()
			cur = th
			mu.Unlock()
			if memLimit > 0 {
				newHeapCheck(memLimit).install(th)
			}
			err = starlark.ExecREPLChunk(f, th, globals)
			mu.Lock()
			cur = nil
			mu.Unlock()
			var ee *starlark.EvalError
			switch {
			case err == nil:
			case strings.Contains(err.Error(), "interrupted (SIGINT)"):
				done["kind"], done["exit"] = "interrupted", 1
			case strings.Contains(err.Error(), memCancel):
				done["kind"], done["exit"] = "memory", 1
			case errors.As(err, &ee):
				done["kind"], done["exit"], done["exc"] = "exception", 1, "EvalError"
			case err != nil:
				// A resolve error (undefined name...) is a compile error.
				done["kind"], done["exit"] = "syntax", 1
			}
		}
		if err != nil {
			msg := err.Error()
			var ee *starlark.EvalError
			if errors.As(err, &ee) {
				msg = ee.Backtrace()
			}
			_ = out.send(map[string]any{"t": "out", "step": step, "s": "e", "d": base64.StdEncoding.EncodeToString([]byte(msg + "\n"))})
		}
		done["cpu_ms"] = (cpuTime() - t0).Milliseconds()
		if err := out.send(done); err != nil {
			return 74
		}
	}
}

func orName(n string) string {
	if n == "" {
		return "<step>"
	}
	return n
}

type frameWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (f *frameWriter) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(b)))
	if _, err := f.w.Write(hdr[:]); err != nil {
		return err
	}
	if _, err := f.w.Write(b); err != nil {
		return err
	}
	return f.w.Flush()
}

func readFrame(r io.Reader, v any) error {
	b, err := readRaw(r, 64<<20)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
