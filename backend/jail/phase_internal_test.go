//go:build linux

package jail

import (
	"context"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/lang"
)

// TestPhases prints where a jailed print(1) spends its time (set
// JAIL_PHASES=1): a tool for performance work, not a pass/fail test.
func TestPhases(t *testing.T) {
	if os.Getenv("JAIL_PHASES") == "" {
		t.Skip("set JAIL_PHASES=1 to print the phase timings of a jailed run")
	}
	// JAIL_PHASES_HEAP=MB gives the supervisor a heap of that size: the
	// os/exec spawn copies its page tables, the vfork spawn does not.
	if mb, _ := strconv.Atoi(os.Getenv("JAIL_PHASES_HEAP")); mb > 0 {
		ballast = make([]byte, mb<<20)
		for i := 0; i < len(ballast); i += 4096 {
			ballast[i] = 1
		}
	}
	for _, dg := range [][]string{nil} {
		for _, vfork := range []bool{true, false} {
			phases(t, dg, vfork)
		}
	}
	runtime.KeepAlive(ballast)
}

var ballast []byte

func phases(t *testing.T, dg []string, vfork bool) {
	b, err := New(Options{Languages: lang.NewRegistry(lang.Options{}), Downgrade: dg})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.noVfork.Store(!vfork)
	l, _ := b.opts.Languages.Lookup(context.Background(), "python")
	lim := sandrun.Limits{}.WithDefaults()
	var ph [6][]time.Duration
	var bare []time.Duration
	cpu := func(who int) time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(who, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	var bareCPU, jailCPU, jailSelf time.Duration
	for i := 0; i < 20; i++ {
		c0 := cpu(syscall.RUSAGE_CHILDREN)
		t0 := time.Now()
		exec.Command(l.Interpreter, "-c", "print(1)").Run()
		bare = append(bare, time.Since(t0))
		c1, s1 := cpu(syscall.RUSAGE_CHILDREN), cpu(syscall.RUSAGE_SELF)
		bareCPU += c1 - c0
		t0 = time.Now()
		p, err := b.start(&spec{lang: l, argv: l.Command("/work/main.py", int64(lim.Memory), nil), env: programEnv(l, nil),
			files: []initFile{{Name: "main.py", Data: []byte("print(1)")}}, limits: lim, stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		<-p.started
		t2 := time.Now()
		o := p.wait()
		t3 := time.Now()
		if o.err != nil {
			t.Fatal(o.err)
		}
		jailCPU += cpu(syscall.RUSAGE_CHILDREN) - c1
		jailSelf += cpu(syscall.RUSAGE_SELF) - s1
		ph[0] = append(ph[0], t1.Sub(t0))
		ph[1] = append(ph[1], t2.Sub(t1))
		ph[2] = append(ph[2], t3.Sub(t2))
		ph[3] = append(ph[3], t3.Sub(t0))
	}
	med := func(d []time.Duration) time.Duration {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[len(d)/2]
	}
	spawn := "vfork"
	if b.noVfork.Load() {
		spawn = "os/exec"
	}
	t.Logf("%v, %s spawn, heap %d MB: cpu per run: bare %v, jail children %v, supervisor %v", dg, spawn, len(ballast)>>20, bareCPU/20, jailCPU/20, jailSelf/20)
	t.Logf("bare %v; start %v, setup %v, run+wait %v, total %v", med(bare), med(ph[0]), med(ph[1]), med(ph[2]), med(ph[3]))
}
