package restricted_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/restricted"
	"github.com/sandrun/sandrun/internal/guest"
	"github.com/sandrun/sandrun/internal/pypolicy/pypolicytest"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// These tests run restricted python's policy in a plain local python
// (pypolicytest): they cover the tier's side (routing, host API,
// statuses, variables). The jail around the policy is tested in
// tests/rpython.

var (
	localOnce sync.Once
	local     *pypolicytest.Runner
	localErr  error
)

func localPython(t testing.TB) *pypolicytest.Runner {
	t.Helper()
	localOnce.Do(func() {
		local, localErr = pypolicytest.New(context.Background())
	})
	if localErr != nil {
		skip(t, "no python: %v", localErr)
	}
	return local
}

func runPy(t testing.TB, sb *sandrun.Sandbox, code string) *sandrun.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := sb.Run(ctx, &sandrun.Request{Language: "python", Backend: restricted.Name, Code: code})
	if err != nil && res == nil {
		t.Fatal(err)
	}
	return res
}

// TestPythonSeed: the seed's RestrictedPython examples, verbatim, with
// the host API the CLI gives (MathEnv) and with Go host functions.
func TestPythonSeed(t *testing.T) {
	sb := newSandbox(t, restricted.Options{Predeclared: restricted.MathEnv(), Python: localPython(t)})
	res := runPy(t, sb, "numbers = [1, 2, 3, 4, 5]\ntotal = sum(numbers)\naverage = total / len(numbers)\nsquared = [x ** 2 for x in numbers]\n")
	wantStatus(t, res, sandrun.StatusOK)
	b, _ := json.Marshal(res.Variables)
	for _, want := range []string{`"total":15`, `"average":3.0`, `"squared":[1,4,9,16,25]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("variables %s lack %s", b, want)
		}
	}
	res = runPy(t, sb, "import math\na = 3\nb = 4\nc = math.sqrt(a**2 + b**2)\nprint(f\"Hypotenuse: {c}\")\nradius = 5\narea = math.pi * radius**2\ncircumference = 2 * math.pi * radius\nprint(f\"Area: {area:.2f}\")\nprint(f\"Circumference: {circumference:.2f}\")\n")
	wantStatus(t, res, sandrun.StatusOK)
	if res.Stdout != "Hypotenuse: 5.0\nArea: 78.54\nCircumference: 31.42\n" {
		t.Errorf("math example: %q", res.Stdout)
	}
	// The seed's math namespace: the host's sqrt, pi, round ... as
	// globals (MathEnv: python's own functions).
	res = runPy(t, sb, strings.ReplaceAll(seedMath, "a * a + b * b", "a**2 + b**2"))
	wantStatus(t, res, sandrun.StatusOK)
	if res.Stdout != seedMathOut {
		t.Errorf("MathEnv: %q, want %q", res.Stdout, seedMathOut)
	}
	res = runPy(t, sb, "print(sum([1,2,3,4,5]))")
	wantStatus(t, res, sandrun.StatusOK)
	if res.Stdout != "15\n" {
		t.Errorf("sum: %q", res.Stdout)
	}
	res = runPy(t, sb, "import os")
	wantStatus(t, res, sandrun.StatusExitError)
	if !strings.Contains(res.Error, "import of 'os' is not allowed in restricted python") || !strings.Contains(res.Stderr, "ImportError") {
		t.Errorf("import os: %s / %s", res.Error, res.Stderr)
	}
	res = runPy(t, sb, "__builtins__['__import__']('os')")
	wantStatus(t, res, sandrun.StatusCompileError)
	if !strings.Contains(res.Error, `"__builtins__" is an invalid variable name because it starts with "_"`) {
		t.Errorf("builtins: %s", res.Error)
	}
}

// TestPythonHostFunctions: Go functions the host provides are called over
// the channel, with the run's context; errors come back as exceptions.
func TestPythonHostFunctions(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	record := starlark.NewBuiltin("record", func(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, args.String())
		return starlark.MakeInt(len(seen)), nil
	})
	fail := starlark.NewBuiltin("fail", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		return nil, errors.New("the host said no")
	})
	geo := &starlarkstruct.Module{Name: "geo", Members: starlark.StringDict{"record": record, "origin": starlark.Tuple{starlark.MakeInt(0), starlark.MakeInt(0)}}}
	env := seedMathEnv() // Go builtins: proxied
	env["record"], env["fail"], env["geo"], env["config"] = record, fail, geo, starlark.NewDict(1)
	sb := newSandbox(t, restricted.Options{Predeclared: env, Python: localPython(t)})
	res := runPy(t, sb, `n = record([1, "a", {"k": 2.5}], x=None)
m = geo.record(b"bytes", (1, 2), {3})
try:
    fail()
except RuntimeError as err:
    print("caught:", err)
print(n, m, geo.origin, config, sqrt(16), floor(e), round(pi, 2))
`)
	wantStatus(t, res, sandrun.StatusOK)
	if res.Stdout != "caught: the host said no\n1 2 (0, 0) {} 4.0 2 3.14\n" {
		t.Errorf("stdout %q", res.Stdout)
	}
	if len(seen) != 2 || seen[0] != `([1, "a", {"k": 2.5}],)` || seen[1] != `(b"bytes", (1, 2), set([3]))` {
		t.Errorf("host saw %q", seen)
	}
}

// TestPythonStatuses: the policy's report decides how a program ended.
func TestPythonStatuses(t *testing.T) {
	sb := newSandbox(t, restricted.Options{Python: localPython(t), PythonStepsPerCPUSecond: 100_000})
	for _, c := range []struct {
		code   string
		status sandrun.Status
		errHas string
	}{
		{"x = 1", sandrun.StatusOK, ""},
		{"1/0", sandrun.StatusExitError, "ZeroDivisionError: division by zero"},
		{"exit(4)", sandrun.StatusExitError, "exited with code 4"},
		{"def f(:", sandrun.StatusCompileError, "SyntaxError"},
		{"x = ().__class__", sandrun.StatusCompileError, `"__class__" is an invalid attribute name`},
		{"while True:\n    pass", sandrun.StatusCPULimit, "step budget"},
	} {
		res := runPy(t, sb, c.code)
		if res.Status != c.status || !strings.Contains(res.Error, c.errHas) {
			t.Errorf("%q: %s %q, want %s %q", c.code, res.Status, res.Error, c.status, c.errHas)
		}
	}
}

// TestPythonUnavailable: without a runner (no jail), restricted python
// fails closed and says what is missing; Starlark is unaffected.
func TestPythonUnavailable(t *testing.T) {
	sb := newSandbox(t, restricted.Options{})
	_, err := sb.Run(context.Background(), &sandrun.Request{Language: "python", Backend: restricted.Name, Code: "print(1)"})
	var ue *sandrun.UnavailableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "jail") {
		t.Fatalf("err %v", err)
	}
	wantStatus(t, run(t, sb, "x = 1", sandrun.Limits{}), sandrun.StatusOK)
	sb = newSandbox(t, restricted.Options{Python: refusingRunner{}})
	_, err = sb.Run(context.Background(), &sandrun.Request{Language: "python", Backend: restricted.Name, Code: "print(1)"})
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "Landlock ABI 6") {
		t.Fatalf("err %v", err)
	}
}

type refusingRunner struct{}

func (refusingRunner) CheckGuest(context.Context, string) error {
	return errors.New("jail: restricted-python cannot run here: it needs Landlock ABI 6")
}
func (refusingRunner) RunGuest(context.Context, *sandrun.Request, *guest.Run) (*sandrun.Result, error) {
	return nil, errors.New("not reached")
}
func (refusingRunner) LaunchGuest(context.Context, *sandrun.LaunchSpec, *guest.Run) (sandrun.Launched, error) {
	return nil, errors.New("not reached")
}

// TestPythonRequestFields: what has no meaning here is refused by field.
func TestPythonRequestFields(t *testing.T) {
	sb := newSandbox(t, restricted.Options{Python: localPython(t)})
	_, err := sb.Run(context.Background(), &sandrun.Request{Language: "python", Backend: restricted.Name, Code: "x=1", Stdin: "in", Args: []string{"a"}})
	var re *sandrun.RequestError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "stdin") || !strings.Contains(err.Error(), "restricted python programs have no standard input") {
		t.Fatalf("err %v", err)
	}
}

// fakeRunner plays a guest whose channel carries what the test says: the
// tier must not take a forged or missing report as a result.
type fakeRunner struct {
	frames [][]byte
	status sandrun.Status
}

func (fakeRunner) CheckGuest(context.Context, string) error { return nil }
func (fakeRunner) LaunchGuest(context.Context, *sandrun.LaunchSpec, *guest.Run) (sandrun.Launched, error) {
	return nil, errors.New("no sessions here")
}
func (f fakeRunner) RunGuest(_ context.Context, _ *sandrun.Request, run *guest.Run) (*sandrun.Result, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	a, b := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	defer a.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		run.Serve(a)
	}()
	for _, fr := range f.frames {
		if _, err := b.Write(fr); err != nil {
			break
		}
	}
	b.Close()
	<-done
	return &sandrun.Result{Status: f.status, Stdout: "out\n"}, nil
}

func frame(kind byte, payload string) []byte {
	n := len(payload) + 1
	return append([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), kind}, payload...)
}

func TestPythonReportTrust(t *testing.T) {
	for _, c := range []struct {
		name   string
		runner fakeRunner
		want   sandrun.Status
	}{
		{"no report", fakeRunner{status: sandrun.StatusOK}, sandrun.StatusInternalError},
		{"garbage", fakeRunner{frames: [][]byte{[]byte("\x00\x00\x00\x05Xabcd")}, status: sandrun.StatusOK}, sandrun.StatusInternalError},
		{"oversized", fakeRunner{frames: [][]byte{[]byte("\x7f\x00\x00\x00D")}, status: sandrun.StatusOK}, sandrun.StatusInternalError},
		{"bad report", fakeRunner{frames: [][]byte{frame('D', "{not json")}, status: sandrun.StatusOK}, sandrun.StatusInternalError},
		{"ok report", fakeRunner{frames: [][]byte{frame('D', `{"status":"ok","variables":{"x":3.0}}`)}, status: sandrun.StatusOK}, sandrun.StatusOK},
		{"a report does not undo a kill", fakeRunner{frames: [][]byte{frame('D', `{"status":"ok"}`)}, status: sandrun.StatusTimeout}, sandrun.StatusTimeout},
		{"a report does not undo a memory kill", fakeRunner{frames: [][]byte{frame('D', `{"status":"ok"}`)}, status: sandrun.StatusMemoryLimit}, sandrun.StatusMemoryLimit},
	} {
		t.Run(c.name, func(t *testing.T) {
			sb := newSandbox(t, restricted.Options{Python: c.runner})
			res := runPy(t, sb, "x = 1")
			if res.Status != c.want {
				t.Fatalf("status %s (%s), want %s", res.Status, res.Error, c.want)
			}
			if c.want == sandrun.StatusOK && fmt.Sprint(res.Variables["x"]) != "3.0" {
				t.Fatalf("variables %v", res.Variables)
			}
		})
	}
}
