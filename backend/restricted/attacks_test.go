package restricted_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/restricted"
	"go.starlark.net/starlark"
)

// hostileHost is a host API for the hostile-argument attacks.
func hostileHost() starlark.StringDict {
	return starlark.StringDict{
		// kind reports what arrived, so the test sees what crossed.
		"kind": starlark.NewBuiltin("kind", func(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
			if len(args) != 1 {
				return nil, nil
			}
			return starlark.String(args[0].Type()), nil
		}),
		"boom": starlark.NewBuiltin("boom", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
			panic("host bug")
		}),
		"stall": starlark.NewBuiltin("stall", func(th *starlark.Thread, _ *starlark.Builtin, _ starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
			<-restricted.RunContext(th).Done()
			return starlark.None, nil
		}),
		"huge": starlark.NewBuiltin("huge", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
			return starlark.String(strings.Repeat("x", 8<<20)), nil
		}),
	}
}

// hostMemoryBound is how much this (the host) process's peak RSS may grow
// during one attack: the output cap, a few capped frames, and slack.
const hostMemoryBound = 64 << 20

// TestRestrictedAttacks runs the restricted tier's list in attacks.md:
// each attack must end with its stated status while the host process's
// memory stays bounded.
func TestRestrictedAttacks(t *testing.T) {
	if testing.Short() {
		t.Skip("attack corpus: seconds of limits; skipped under -short")
	}
	if restricted.RaceEnabled {
		t.Skip("the race detector's worker needs gigabytes more memory: memory limits do not hold")
	}
	sb := newSandbox(t, restricted.Options{Predeclared: hostileHost()})
	// Each case asserts one status. Which limit trips first must not
	// depend on the host's load, so every case is given limits where
	// exactly one can trip: CPU time and memory are counted in the
	// program's own work (the same on a busy host), and the wall clock,
	// which a busy host stretches, is generous except where it is the
	// limit under test (a program that waits and burns nothing).
	fast := sandrun.Limits{WallTime: sandrun.Duration(60 * time.Second), CPUTime: sandrun.Duration(time.Second)}
	// CPU-bound: one CPU second (the step budget or RLIMIT_CPU), memory
	// far above what a second of work can allocate.
	cpuBound := sandrun.Limits{WallTime: sandrun.Duration(60 * time.Second), CPUTime: sandrun.Duration(time.Second), Memory: 1 << 30}
	// Memory-bound: 64 MiB, CPU time far above what filling it costs.
	memBound := sandrun.Limits{WallTime: sandrun.Duration(120 * time.Second), CPUTime: sandrun.Duration(60 * time.Second), Memory: 64 << 20}
	// Wall-bound: a program that waits without burning CPU.
	wallBound := sandrun.Limits{WallTime: sandrun.Duration(time.Second), CPUTime: sandrun.Duration(60 * time.Second)}
	roomy := sandrun.Limits{WallTime: sandrun.Duration(120 * time.Second), CPUTime: sandrun.Duration(60 * time.Second)}
	cases := []struct {
		name   string
		code   string
		lim    sandrun.Limits
		want   sandrun.Status
		stderr string // must appear in stderr or error
	}{
		// imports and escapes
		{"import", "import os\nos.system('id')", fast, sandrun.StatusCompileError, "import statements"},
		{"from-import", "from os import system", fast, sandrun.StatusCompileError, "import statements"},
		{"dunder import", "__import__('os')", fast, sandrun.StatusCompileError, "undefined: __import__"},
		{"open", "open('/etc/passwd')", fast, sandrun.StatusCompileError, "undefined: open"},
		{"eval exec", "eval('1')\nexec('x=1')", fast, sandrun.StatusCompileError, "undefined: eval"},
		{"load", `load("/etc/passwd", "x")`, fast, sandrun.StatusCompileError, "load() is not supported"},
		{"builtins via attribute", "print.__self__", fast, sandrun.StatusExitError, "has no .__self__"},
		{"globals via getattr", "getattr(json.encode, '__globals__')", fast, sandrun.StatusExitError, "has no .__globals__"},
		{"module dict", "json.__dict__", fast, sandrun.StatusExitError, "has no .__dict__"},
		{"class", "''.__class__", fast, sandrun.StatusExitError, "has no .__class__"},
		{"subclasses", "().__class__.__bases__[0].__subclasses__()", fast, sandrun.StatusExitError, "has no .__class__"},
		{"type is a string", "t = type(1)\nt.__subclasses__()", fast, sandrun.StatusExitError, "has no .__subclasses__"},
		{"host function internals", "kind.__code__", fast, sandrun.StatusExitError, "has no .__code__"},
		// CPU and time
		{"infinite loop", "while True:\n    pass", cpuBound, sandrun.StatusCPULimit, ""},
		{"huge range", "for i in range(1 << 62):\n    pass", cpuBound, sandrun.StatusCPULimit, ""},
		{"deep recursion", "def f(n):\n    return f(n + 1)\nf(0)", fast, sandrun.StatusExitError, "call depth"},
		{"mutual recursion", "def a(n):\n    return b(n)\ndef b(n):\n    return a(n)\na(0)", fast, sandrun.StatusExitError, "call depth"},
		// big values
		{"huge int literal syntax", "x = 2 ** (2 ** 30)", fast, sandrun.StatusCompileError, "** power operator"},
		{"huge int shift", "x = 1 << (1 << 30)", fast, sandrun.StatusExitError, "shift count too large"},
		// 16 MiB: each squaring costs more CPU than the last, so a small
		// heap keeps the test short.
		{"huge int squaring", "x = 10\nfor i in range(40):\n    x = x * x", sandrun.Limits{Memory: 16 << 20, CPUTime: memBound.CPUTime, WallTime: memBound.WallTime}, sandrun.StatusMemoryLimit, ""},
		{"huge int to string", "x = 7\nfor i in range(26):\n    x = x * x\ns = str(x)", cpuBound, sandrun.StatusCPULimit, ""},
		{"string repeat bomb", "x = 'a' * (900 << 20)", memBound, sandrun.StatusMemoryLimit, ""},
		{"list repeat bomb", "x = [0] * (1 << 29)", memBound, sandrun.StatusMemoryLimit, ""},
		{"doubling bomb", "x = 'a' * (1 << 20)\nfor i in range(40):\n    x = x + x", memBound, sandrun.StatusMemoryLimit, ""},
		{"nested comprehension bomb", "x = [[[i for i in range(1000)] for j in range(1000)] for k in range(1000)]", memBound, sandrun.StatusMemoryLimit, ""},
		{"nested data printed", "x = []\nfor i in range(200000):\n    x = [x]\nprint(x)", cpuBound, sandrun.StatusCPULimit, ""},
		// parser bombs
		{"nested brackets", "x = " + strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000), fast, sandrun.StatusCompileError, "excessive nesting"},
		{"nested lists", "x = " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000), fast, sandrun.StatusCompileError, "excessive nesting"},
		{"unary chain", "x = " + strings.Repeat("-", 200000) + "1", fast, sandrun.StatusCompileError, "excessive nesting"},
		{"not chain", "x = " + strings.Repeat("not ", 200000) + "True", fast, sandrun.StatusCompileError, "excessive nesting"},
		// Compiling a 300,000-deep expression tree takes stack and heap
		// before any step runs.
		{"long binary chain", "x = 1" + strings.Repeat("+1", 300000), memBound, sandrun.StatusMemoryLimit, ""},
		// hash flooding: ints equal mod 2**32 share a hash; the probing is
		// Go code, not steps, so RLIMIT_CPU (SIGXCPU) ends it.
		{"hash flooding", "d = {}\nfor i in range(1000000):\n    d[i * 4294967296] = i", cpuBound, sandrun.StatusCPULimit, ""},
		// huge messages and variables
		{"huge fail message", "fail('x' * (10 << 20))", fast, sandrun.StatusExitError, "xxxx"},
		{"escape-heavy variables", "s = '\\x01' * 900000\nt = '\\x02' * 900000\nsmall = 1", fast, sandrun.StatusOK, ""},
		// output floods
		{"print flood", "while True:\n    print('x' * 1000)", sandrun.Limits{Output: 64 << 10, WallTime: roomy.WallTime}, sandrun.StatusOutputLimit, ""},
		{"one huge print", "print('a' * (100 << 20))", sandrun.Limits{Output: 64 << 10, WallTime: roomy.WallTime}, sandrun.StatusOutputLimit, ""},
		// hostile arguments to host functions
		{"host: huge argument", "kind('a' * (64 << 20))", fast, sandrun.StatusExitError, "too large"},
		{"host: deep argument", "x = []\nfor i in range(1000):\n    x = [x]\nkind(x)", fast, sandrun.StatusExitError, "nested deeper"},
		{"host: cyclic argument", "x = []\nx.append(x)\nkind(x)", fast, sandrun.StatusExitError, "nested deeper"},
		{"host: function argument", "print(kind(lambda: 1))", fast, sandrun.StatusOK, ""},
		{"host: many calls", "for i in range(20000):\n    kind(i)", roomy, sandrun.StatusOK, ""},
		{"host: panic", "boom()", fast, sandrun.StatusExitError, "host bug"},
		{"host: stall", "stall()", wallBound, sandrun.StatusTimeout, ""},
		{"host: huge result", "x = huge()", fast, sandrun.StatusExitError, "too large"},
		{"host: huge kwarg name", "kind(1, **{'x' * 2000000: 1})", fast, sandrun.StatusExitError, "too large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resetPeakRSS(t)
			base := peakRSS(t)
			start := time.Now()
			res := run(t, sb, c.code, c.lim)
			wall := time.Since(start)
			grew := peakRSS(t) - base
			t.Logf("%s: %s in %v (%s); host peak RSS +%d KiB", c.name, res.Status, wall.Round(time.Millisecond), firstLine(res.Error), grew>>10)
			wantStatus(t, res, c.want)
			if c.stderr != "" && !strings.Contains(res.Stderr+res.Error, c.stderr) {
				t.Errorf("stderr %q / error %q lack %q", res.Stderr, res.Error, c.stderr)
			}
			if grew > hostMemoryBound {
				t.Errorf("host peak RSS grew by %d MiB (bound %d MiB)", grew>>20, hostMemoryBound>>20)
			}
			if lim := c.lim.WithDefaults().WallTime.D(); wall > lim+3*time.Second {
				t.Errorf("took %v, wall limit %v", wall, lim)
			}
		})
	}
	// The tier still serves after all that.
	res := run(t, sb, "print(1 + 1)", sandrun.Limits{})
	wantStatus(t, res, sandrun.StatusOK)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
