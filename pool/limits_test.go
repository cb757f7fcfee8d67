package pool_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/pool"
	"github.com/sandrun/sandrun/session/sessiontest"
)

// TestAgedInterpreterNotUsed: an interpreter near the end of its launch
// lifetime (the ceiling's wall time) is not handed to a run, which would
// otherwise be killed by that older clock.
func TestAgedInterpreterNotUsed(t *testing.T) {
	for _, b := range sessiontest.Backends() {
		t.Run(b, func(t *testing.T) {
			p, err := pool.New(pool.Config{Launcher: sessiontest.Launcher(t, b), Tier: b, Sizes: map[string]int{"python": 1},
				Ceiling: sandrun.Limits{WallTime: sandrun.Duration(4 * time.Second)}, ReadyTimeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Close() })
			waitReady(t, p, "python", 1)
			time.Sleep(3200 * time.Millisecond) // past 3/4 of its 4s lifetime
			res := runOK(t, p, &sandrun.Request{Language: "python", Code: "import time; time.sleep(1.5); print('done')",
				Limits: sandrun.Limits{WallTime: sandrun.Duration(3 * time.Second)}})
			if res.Status != sandrun.StatusOK || res.Stdout != "done\n" {
				t.Fatalf("%s %q %q", res.Status, res.Error, res.Stderr)
			}
		})
	}
}

// TestUnderLoad: 200 runs at concurrency 8 with a CPU hog on the host,
// more than the pool holds, so most runs launch cold: every run ends ok
// (no "ended before it was ready", no pool error).
func TestUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: 200 runs")
	}
	for _, b := range sessiontest.Backends() {
		t.Run(b, func(t *testing.T) {
			p := newPool(t, b, map[string]int{"python": 2})
			waitReady(t, p, "python", 2)
			hog := exec.Command("sh", "-c", "while :; do :; done")
			if err := hog.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = hog.Process.Kill(); _ = hog.Wait() }()
			const n, c = 200, 8
			jobs := make(chan int)
			errs := make(chan string, n)
			var wg sync.WaitGroup
			for range c {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range jobs {
						want := fmt.Sprintf("run %d\n", i)
						res, err := p.Run(context.Background(), &sandrun.Request{Language: "python", Code: fmt.Sprintf("print('run %d')", i), Limits: sandrun.DefaultLimits()})
						if err != nil || res.Status != sandrun.StatusOK || res.Stdout != want {
							errs <- fmt.Sprintf("run %d: %v %+v", i, err, res)
						}
					}
				}()
			}
			for i := range n {
				jobs <- i
			}
			close(jobs)
			wg.Wait()
			close(errs)
			bad := 0
			for e := range errs {
				if bad++; bad <= 5 {
					t.Error(e)
				}
			}
			if bad > 0 {
				t.Fatalf("%d of %d runs failed", bad, n)
			}
			t.Logf("stats: %+v", p.Stats())
		})
	}
}

// TestProgramModeLimits: limits end a program-mode run with the cold
// statuses and the request's limits in the message.
func TestProgramModeLimits(t *testing.T) {
	for _, b := range sessiontest.Backends() {
		t.Run(b, func(t *testing.T) {
			p := newPool(t, b, map[string]int{"javascript": 1})
			for _, c := range []struct {
				code string
				lim  sandrun.Limits
				want sandrun.Status
				msg  string
			}{
				{"while (true) {}", sandrun.Limits{WallTime: sandrun.Duration(time.Second)}, sandrun.StatusTimeout, "limit of 1s"},
				{"while (true) console.log('y'.repeat(1000))", sandrun.Limits{Output: 32 << 10}, sandrun.StatusOutputLimit, "32KiB"},
				{"process.exit(4)", sandrun.Limits{}, sandrun.StatusExitError, "code 4"},
			} {
				waitReady(t, p, "javascript", 1)
				before := p.Stats().Hits
				res := runOK(t, p, &sandrun.Request{Language: "javascript", Code: c.code, Limits: c.lim})
				if p.Stats().Hits != before+1 {
					t.Fatalf("%q was not served warm: %+v", c.code, p.Stats())
				}
				if res.Status != c.want || !strings.Contains(res.Error, c.msg) {
					t.Errorf("%q: %s %q, want %s naming %q", c.code, res.Status, res.Error, c.want, c.msg)
				}
			}
		})
	}
}

// TestFallback: what the pool does not serve warm (collected files in
// program mode, limits past the ceiling) runs on the fallback backend.
func TestFallback(t *testing.T) {
	for _, b := range sessiontest.Backends() {
		t.Run(b, func(t *testing.T) {
			l := sessiontest.Launcher(t, b)
			fb, ok := l.(sandrun.Backend)
			if !ok {
				t.Skip("the launcher is not a backend")
			}
			p, err := pool.New(pool.Config{Launcher: l, Tier: b, Sizes: map[string]int{"javascript": 1}, Fallback: fb, ReadyTimeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Close() })
			waitReady(t, p, "javascript", 1)
			res := runOK(t, p, &sandrun.Request{Language: "javascript", Code: "require('fs').writeFileSync('out.txt', 'o')", Collect: []string{"out.txt"}})
			if res.Status != sandrun.StatusOK || len(res.Files) != 1 || string(res.Files[0].Content) != "o" {
				t.Fatalf("collect: %s %q %+v", res.Status, res.Error, res.Files)
			}
			res = runOK(t, p, &sandrun.Request{Language: "javascript", Code: "console.log(1)", Limits: sandrun.Limits{Memory: 512 << 20}})
			if res.Status != sandrun.StatusOK || res.Stdout != "1\n" {
				t.Fatalf("past the ceiling: %s %q", res.Status, res.Error)
			}
			if st := p.Stats(); st.Hits != 0 || st.Misses != 2 || st.Launched != 1 {
				t.Fatalf("stats %+v: want 2 misses served by the fallback, no cold launch", st)
			}
		})
	}
}

// TestProgramModeKeepsOutput: every program-mode run keeps all of its
// output, at concurrency, under a CPU hog (the interpreter's end must not
// race the reading of its last output).
func TestProgramModeKeepsOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: 120 runs")
	}
	for _, b := range sessiontest.Backends() {
		t.Run(b, func(t *testing.T) {
			p := newPool(t, b, map[string]int{"javascript": 4})
			waitReady(t, p, "javascript", 4)
			hog := exec.Command("sh", "-c", "while :; do :; done")
			if err := hog.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = hog.Process.Kill(); _ = hog.Wait() }()
			var wg sync.WaitGroup
			errs := make(chan string, 120)
			jobs := make(chan int)
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range jobs {
						tok := fmt.Sprintf("tok-%d", i)
						res := runOK(t, p, &sandrun.Request{Language: "javascript", Stdin: tok,
							Code: "const x = require('fs').readFileSync(0, 'utf8'); console.log('out:' + x); console.error('err:' + x)"})
						if res.Status != sandrun.StatusOK || res.Stdout != "out:"+tok+"\n" || res.Stderr != "err:"+tok+"\n" {
							errs <- fmt.Sprintf("run %d: %s %q %q %q", i, res.Status, res.Stdout, res.Stderr, res.Error)
						}
					}
				}()
			}
			for i := range 120 {
				jobs <- i
			}
			close(jobs)
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Error(e)
			}
			t.Logf("%+v", p.Stats())
		})
	}
}

// A warm interpreter's run reported usage.wall_ms from the interpreter's
// start, ahead of the request: a 0.7 s program that had waited 14 s in
// the pool said wall_ms 14482, and a run killed at its 1 s limit said
// 18402. The run's wall time is its own: never more than the caller
// waited for it.
func TestProgramModeWallTimeIsTheRuns(t *testing.T) {
	for _, b := range sessiontest.Backends() {
		t.Run(b, func(t *testing.T) {
			p := newPool(t, b, map[string]int{"javascript": 1})
			for _, code := range []string{"setTimeout(() => console.log('done'), 100)", "process.exit(3)"} {
				waitReady(t, p, "javascript", 1)
				time.Sleep(1500 * time.Millisecond) // the interpreter ages in the pool
				before := p.Stats().Hits
				t0 := time.Now()
				res := runOK(t, p, &sandrun.Request{Language: "javascript", Code: code})
				took := time.Since(t0)
				if p.Stats().Hits != before+1 {
					t.Fatalf("%q was not served warm: %+v", code, p.Stats())
				}
				if got := time.Duration(res.Usage.WallMs) * time.Millisecond; got > took {
					t.Errorf("%q: usage.wall_ms %v, but the run took %v from the caller's side: the interpreter's wait in the pool was counted", code, got, took)
				}
			}
		})
	}
}
