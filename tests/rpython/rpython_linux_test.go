//go:build linux

// Package rpython tests restricted python end to end as cmd/sandrun wires
// it: the restricted tier with the jail as its guest runner, the policy
// in a guest child of the jail's warm path. The policy's own rules are
// tested in internal/pypolicy; here: the seed's examples verbatim, the
// escape corpus refused in the jail, and every escape contained by the
// jail when the policy is switched off.
package rpython

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/backend/restricted"
	"github.com/sandrun/sandrun/internal/guest"
	"github.com/sandrun/sandrun/internal/pypolicy"
	"github.com/sandrun/sandrun/internal/pypolicy/corpus"
	"github.com/sandrun/sandrun/lang"
)

// TestMain lets the test binary be the jail's init.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "__child" && os.Args[2] == jail.ChildRole {
		os.Exit(jail.ChildMain(os.Args))
	}
	os.Exit(m.Run())
}

type stack struct {
	jail    *jail.Backend
	sandbox *sandrun.Sandbox
}

var (
	shared     *stack
	sharedErr  error
	sharedOnce sync.Once
)

func skip(t testing.TB, format string, a ...any) {
	t.Helper()
	if os.Getenv("SANDRUN_TEST_STRICT") == "1" {
		t.Fatalf(format, a...)
	}
	t.Skipf(format, a...)
}

// newStack wires the jail and the restricted tier as cmd/sandrun does.
func newStack(opts jail.Options) (*stack, error) {
	opts.Languages = lang.NewRegistry(lang.Options{})
	opts.Guests = []guest.Spec{pypolicy.Guest()}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	jl, err := jail.New(opts)
	if err != nil {
		return nil, err
	}
	rest, err := restricted.New(restricted.Options{Predeclared: restricted.MathEnv(), Python: jl, Warm: -1})
	if err != nil {
		jl.Close()
		return nil, err
	}
	sb, err := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{rest}})
	if err != nil {
		jl.Close()
		return nil, err
	}
	return &stack{jail: jl, sandbox: sb}, nil
}

func sharedStack(t testing.TB) *stack {
	t.Helper()
	sharedOnce.Do(func() {
		shared, sharedErr = newStack(jail.Options{Prestart: 1})
		if sharedErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := shared.jail.CheckGuest(ctx, pypolicy.GuestName); err != nil {
			sharedErr = err
			return
		}
		sharedErr = shared.jail.GuestReady(ctx, pypolicy.GuestName)
	})
	if sharedErr != nil {
		skip(t, "restricted python unavailable here: %v", sharedErr)
	}
	return shared
}

func run(t testing.TB, code string, lim sandrun.Limits) *sandrun.Result {
	t.Helper()
	s := sharedStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := s.sandbox.Run(ctx, &sandrun.Request{Language: "python", Backend: restricted.Name, Code: code, Limits: lim})
	if res == nil {
		t.Fatal(err)
	}
	return res
}

// TestSeedExamples: every RestrictedPython example of the seed, verbatim.
func TestSeedExamples(t *testing.T) {
	res := run(t, "numbers = [1, 2, 3, 4, 5]\ntotal = sum(numbers)\naverage = total / len(numbers)\nsquared = [x ** 2 for x in numbers]\n", sandrun.Limits{})
	b, _ := json.Marshal(res.Variables)
	if res.Status != sandrun.StatusOK || !strings.Contains(string(b), `"total":15`) || !strings.Contains(string(b), `"average":3.0`) || !strings.Contains(string(b), `"squared":[1,4,9,16,25]`) {
		t.Errorf("numbers: %s %s %s %s", res.Status, res.Error, b, res.Stderr)
	}
	res = run(t, "import math\na = 3\nb = 4\nc = math.sqrt(a**2 + b**2)\nprint(f\"Hypotenuse: {c}\")\nradius = 5\narea = math.pi * radius**2\ncircumference = 2 * math.pi * radius\nprint(f\"Area: {area:.2f}\")\nprint(f\"Circumference: {circumference:.2f}\")\n", sandrun.Limits{})
	if res.Status != sandrun.StatusOK || res.Stdout != "Hypotenuse: 5.0\nArea: 78.54\nCircumference: 31.42\n" {
		t.Errorf("math: %s %s %q %s", res.Status, res.Error, res.Stdout, res.Stderr)
	}
	// The seed's math namespace (math.* without an import, and the host's
	// sqrt, pi, round as globals).
	res = run(t, "c = math.sqrt(3**2 + 4**2)\narea = round(pi * 5**2, 2)\ncircumference = round(2 * pi * 5, 2)\nprint(sqrt(25), c, area, circumference)\n", sandrun.Limits{})
	b, _ = json.Marshal(res.Variables)
	if res.Status != sandrun.StatusOK || res.Stdout != "5.0 5.0 78.54 31.42\n" || !strings.Contains(string(b), `"area":78.54`) || !strings.Contains(string(b), `"circumference":31.42`) {
		t.Errorf("namespace: %s %s %q %s", res.Status, res.Error, res.Stdout, b)
	}
	res = run(t, "print(sum([1,2,3,4,5]))", sandrun.Limits{})
	if res.Status != sandrun.StatusOK || res.Stdout != "15\n" {
		t.Errorf("sum: %s %q", res.Status, res.Stdout)
	}
	res = run(t, "import os", sandrun.Limits{})
	if res.Status != sandrun.StatusExitError || !strings.Contains(res.Error, "ImportError: import of 'os' is not allowed in restricted python") {
		t.Errorf("import os: %s %s", res.Status, res.Error)
	}
	res = run(t, "__builtins__['__import__']('os')", sandrun.Limits{})
	if res.Status != sandrun.StatusCompileError || !strings.Contains(res.Error, `Line 1: "__builtins__" is an invalid variable name because it starts with "_"`) {
		t.Errorf("builtins: %s %s", res.Status, res.Error)
	}
}

// target is what the corpus's payload aims at: a host file, a host port
// (with a listener that counts connections) and a value in this process's
// environment.
type target struct {
	corpus.Target
	conns atomic.Int64
}

func newTarget(t *testing.T) *target {
	secret := t.TempDir() + "/secret"
	if err := os.WriteFile(secret, []byte("host-secret-bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	tg := &target{Target: corpus.Target{SecretFile: secret, Port: ln.Addr().(*net.TCPAddr).Port, EnvSecret: fmt.Sprintf("rpython-env-secret-%d", os.Getpid())}}
	t.Setenv("RPYTHON_TEST_SECRET", tg.EnvSecret)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tg.conns.Add(1)
			c.Close()
		}
	}()
	return tg
}

// TestCorpusRefused: in the jail, the policy refuses every escape before
// its payload runs.
func TestCorpusRefused(t *testing.T) {
	tg := newTarget(t)
	for _, e := range corpus.Escapes() {
		t.Run(e.Name, func(t *testing.T) {
			res := run(t, e.Program(tg.Target), sandrun.Limits{})
			if strings.Contains(res.Stdout, "ESCAPED") || strings.Contains(res.Stdout+res.Stderr, "host-secret-bytes") {
				t.Fatalf("escaped: %s", res.Stdout)
			}
			if res.Status != sandrun.StatusCompileError && res.Status != sandrun.StatusExitError {
				t.Fatalf("status %s: %s", res.Status, res.Error)
			}
		})
	}
	if n := tg.conns.Load(); n != 0 {
		t.Fatalf("%d connections reached the host listener", n)
	}
}

// TestCorpusContainedWithoutPolicy: with the policy switched off (the
// same guest child, the code run as plain python with every built-in),
// every escape gets out of the language and the jail stops its payload:
// no host file, no process, no network, no host secret in the
// environment.
func TestCorpusContainedWithoutPolicy(t *testing.T) {
	s := sharedStack(t)
	tg := newTarget(t)
	for _, e := range corpus.Escapes() {
		t.Run(e.Name, func(t *testing.T) {
			cfg, _ := json.Marshal(pypolicy.Config{Code: e.Program(tg.Target), FileName: "main.py", Policy: false, MaxVariableBytes: 1 << 16, MaxHostArgBytes: 1 << 16})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			res, err := s.jail.RunGuest(ctx, &sandrun.Request{Language: "python", Limits: sandrun.Limits{}.WithDefaults()},
				&guest.Run{Guest: pypolicy.GuestName, Config: cfg, Serve: func(c io.ReadWriter) { _, _ = io.Copy(io.Discard, c) }})
			if err != nil {
				t.Fatal(err)
			}
			out := res.Stdout + res.Stderr
			if !strings.Contains(res.Stdout, "ESCAPED") {
				t.Fatalf("the escape did not get out of the language (so this does not test the jail): %s %s\n%s", res.Status, res.Error, out)
			}
			for _, leak := range []string{"host-secret-bytes", "exec:exec-ran", "net-connected", "env:leaked", tg.EnvSecret} {
				if strings.Contains(out, leak) {
					t.Errorf("not contained (%s): %s", leak, out)
				}
			}
			if e.Kind == corpus.Capability && !(strings.Contains(out, "read-blocked:") && strings.Contains(out, "exec-blocked:") && strings.Contains(out, "net-blocked:")) {
				t.Errorf("the payload's report is incomplete: %s", out)
			}
			t.Logf("%s", strings.TrimSpace(lastLine(res.Stdout)))
		})
	}
	if n := tg.conns.Load(); n != 0 {
		t.Fatalf("%d connections reached the host listener", n)
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// TestLimits: the limits every tier has, in a guest child.
func TestLimits(t *testing.T) {
	for _, c := range []struct {
		name string
		code string
		lim  sandrun.Limits
		want sandrun.Status
	}{
		{"wall clock", "import itertools\nfor i in itertools.count():\n    pass", sandrun.Limits{WallTime: sandrun.Duration(time.Second), CPUTime: sandrun.Duration(30 * time.Second)}, sandrun.StatusTimeout},
		{"memory", "x = 'a' * (600 << 20)", sandrun.Limits{Memory: 128 << 20}, sandrun.StatusMemoryLimit},
		{"output", "while True:\n    print('x' * 1000)", sandrun.Limits{Output: 64 << 10}, sandrun.StatusOutputLimit},
		{"steps", "while True:\n    pass", sandrun.Limits{CPUTime: sandrun.Duration(time.Second), WallTime: sandrun.Duration(60 * time.Second)}, sandrun.StatusCPULimit},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := run(t, c.code, c.lim)
			if res.Status != c.want {
				t.Fatalf("status %s (%s), want %s\n%.300s", res.Status, res.Error, c.want, res.Stderr)
			}
			t.Logf("%s: %s (%+v)", res.Status, res.Error, res.Usage)
		})
	}
}

// TestConcurrent: runs at once each get their own child and answer.
func TestConcurrent(t *testing.T) {
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := run(t, fmt.Sprintf("x = %d\nprint(x * 2)", i), sandrun.Limits{})
			if res.Status != sandrun.StatusOK || res.Stdout != fmt.Sprintf("%d\n", 2*i) {
				errs <- fmt.Sprintf("run %d: %s %s %q", i, res.Status, res.Error, res.Stdout)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestFailsClosed: without seccomp (the guest child's boundary), there is
// no restricted python, and the error says why.
func TestFailsClosed(t *testing.T) {
	sharedStack(t) // skips where there is no jail
	s, err := newStack(jail.Options{Downgrade: []string{jail.DowngradeSeccomp}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.jail.Close()
	_, err = s.sandbox.Run(context.Background(), &sandrun.Request{Language: "python", Backend: restricted.Name, Code: "print(1)"})
	if err == nil || !strings.Contains(err.Error(), "seccomp") {
		t.Fatalf("err %v", err)
	}
}
