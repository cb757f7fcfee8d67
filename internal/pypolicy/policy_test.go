package pypolicy_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandrun/sandrun/internal/pypolicy"
	"github.com/sandrun/sandrun/internal/pypolicy/pypolicytest"
)

var (
	pyOnce sync.Once
	pyExe  string
	pyErr  error
)

func python(t *testing.T) string {
	t.Helper()
	pyOnce.Do(func() {
		var r *pypolicytest.Runner
		if r, pyErr = pypolicytest.New(context.Background()); pyErr == nil {
			pyExe = r.Python
		}
	})
	if pyErr != nil {
		if os.Getenv("SANDRUN_TEST_STRICT") == "1" {
			t.Fatal(pyErr)
		}
		t.Skipf("no python: %v", pyErr)
	}
	return pyExe
}

type outcome struct {
	stdout, stderr string
	done           *pypolicy.Done
	calls          []string
}

// host answers C frames: "double" doubles its first argument, anything
// else is an error.
func answer(call []byte) []byte {
	var m struct {
		Func int `json:"func"`
		Args []struct {
			T string `json:"t"`
			S string `json:"s"`
		} `json:"args"`
	}
	if json.Unmarshal(call, &m) != nil || m.Func != 1 || len(m.Args) != 1 || m.Args[0].T != "i" {
		return []byte(`{"error":"bad call"}`)
	}
	var n int64
	fmt.Sscanf(m.Args[0].S, "%x", &n)
	return []byte(fmt.Sprintf(`{"value":{"t":"i","s":"%x"}}`, 2*n))
}

func runPolicy(t *testing.T, cfg pypolicy.Config) outcome {
	t.Helper()
	exe := python(t)
	if cfg.FileName == "" {
		cfg.FileName = "main.py"
	}
	if cfg.MaxVariableBytes == 0 {
		cfg.MaxVariableBytes = 1 << 20
	}
	if cfg.MaxHostArgBytes == 0 {
		cfg.MaxHostArgBytes = 1 << 20
	}
	in, _ := json.Marshal(cfg)
	fds, err := unixPair()
	if err != nil {
		t.Fatal(err)
	}
	parent, child := fds[0], fds[1]
	defer parent.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-E", "-s", "-B", "-c", pypolicytest.Bootstrap)
	cmd.Stdin = strings.NewReader(pypolicytest.Stdin(in))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.ExtraFiles = []*os.File{child}
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child.Close()
	var o outcome
	conn, err := net.FileConn(parent)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	for {
		var hdr [5]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			break
		}
		p := make([]byte, binary.BigEndian.Uint32(hdr[:4])-1)
		if _, err := io.ReadFull(r, p); err != nil {
			break
		}
		switch hdr[4] {
		case 'C':
			o.calls = append(o.calls, string(p))
			ret := answer(p)
			var out [5]byte
			binary.BigEndian.PutUint32(out[:4], uint32(len(ret)+1))
			out[4] = 'V'
			conn.Write(append(out[:], ret...))
		case 'D':
			var d pypolicy.Done
			if err := json.Unmarshal(p, &d); err != nil {
				t.Fatalf("done frame %q: %v", p, err)
			}
			o.done = &d
		}
	}
	_ = cmd.Wait()
	o.stdout, o.stderr = stdout.String(), stderr.String()
	if o.done == nil {
		t.Fatalf("no done frame; stdout %q stderr %q", o.stdout, o.stderr)
	}
	return o
}

func unixPair() ([2]*os.File, error) {
	fds, err := syscallSocketpair()
	if err != nil {
		return [2]*os.File{}, err
	}
	return [2]*os.File{os.NewFile(uintptr(fds[0]), "parent"), os.NewFile(uintptr(fds[1]), "child")}, nil
}

func run(t *testing.T, code string) outcome {
	t.Helper()
	return runPolicy(t, pypolicy.Config{Code: code, Policy: true, MaxSteps: 50_000_000, Modules: []string{"math", "json"}})
}

func vars(t *testing.T, o outcome) string {
	t.Helper()
	return string(o.done.Variables)
}

// TestSeedExamples: the seed's RestrictedPython examples, verbatim.
func TestSeedExamples(t *testing.T) {
	o := run(t, "numbers = [1, 2, 3, 4, 5]\ntotal = sum(numbers)\naverage = total / len(numbers)\nsquared = [x ** 2 for x in numbers]\n")
	if o.done.Status != "ok" || !strings.Contains(vars(t, o), `"total":15`) || !strings.Contains(vars(t, o), `"average":3.0`) || !strings.Contains(vars(t, o), `"squared":[1,4,9,16,25]`) {
		t.Errorf("numbers: %+v %s", o.done, o.stderr)
	}
	o = run(t, "import math\na = 3\nb = 4\nc = math.sqrt(a**2 + b**2)\nprint(f\"Hypotenuse: {c}\")\nradius = 5\narea = math.pi * radius**2\ncircumference = 2 * math.pi * radius\nprint(f\"Area: {area:.2f}\")\nprint(f\"Circumference: {circumference:.2f}\")\n")
	if o.done.Status != "ok" || o.stdout != "Hypotenuse: 5.0\nArea: 78.54\nCircumference: 31.42\n" {
		t.Errorf("math: %+v %q %s", o.done, o.stdout, o.stderr)
	}
	o = run(t, "print(sum([1,2,3,4,5]))")
	if o.done.Status != "ok" || o.stdout != "15\n" {
		t.Errorf("sum: %+v %q %s", o.done, o.stdout, o.stderr)
	}
	o = run(t, "import os")
	if o.done.Status != "exit_error" || !strings.Contains(o.done.Error, "ImportError: import of 'os' is not allowed") || !strings.Contains(o.stderr, "ImportError") {
		t.Errorf("import os: %+v %s", o.done, o.stderr)
	}
	o = run(t, "__builtins__['__import__']('os')")
	if o.done.Status != "compile_error" || !strings.Contains(o.done.Error, `Line 1: "__builtins__" is an invalid variable name because it starts with "_"`) {
		t.Errorf("builtins: %+v %s", o.done, o.stderr)
	}
}

// TestPrepareKeepsNothing: the warm-up a guest child runs before its run
// (prepare, guest.Spec.Prepare) leaves the policy's state, the module
// table, the line cache and the built-ins as they were, and prints
// nothing.
func TestPrepareKeepsNothing(t *testing.T) {
	exe := python(t)
	if pypolicy.Guest().Prepare != pypolicy.Module+".prepare" {
		t.Fatalf("the guest's warm-up is %q", pypolicy.Guest().Prepare)
	}
	script := `
import sys, types, json, linecache
m = types.ModuleType("sandrun_rpolicy")
exec(compile(sys.stdin.read(), "policy.py", "exec"), m.__dict__)
sys.modules["sandrun_rpolicy"] = m
def state():
    return (sorted(m._user_classes), len(m._keep), sorted(m._views), sorted(map(id, m._views.values())), sorted(m._view_ids),
            sorted(sys.modules), sorted(linecache.cache), sorted(m.SAFE_BUILTINS), sorted(k for k in vars(m)))
before = state()
m.prepare()
after = state()
print("same" if before == after else "changed: %r" % [i for i, (a, b) in enumerate(zip(before, after)) if a != b])
`
	cmd := exec.Command(exe, "-E", "-s", "-B", "-c", script)
	cmd.Stdin = strings.NewReader(pypolicy.Source())
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "same\n" {
		t.Fatalf("prepare: %v: %s", err, out)
	}
}
