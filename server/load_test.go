package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/server"
	"github.com/sandrun/sandrun/server/loadtest"
)

// TestThousandRuns: 1000 runs at concurrency 16 through HTTP; none lost,
// none with another run's output.
func TestThousandRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("1000 runs: skipped under -short")
	}
	e := newEnv(t, func(o *server.Options) { o.MaxConcurrent = 16 })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := loadtest.Run(ctx, loadtest.Options{URL: e.url, N: 1000, Concurrency: 16, Language: "bash"})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep)
	if !rep.Clean() {
		t.Fatalf("%v\n%s", rep, strings.Join(rep.Samples, "\n"))
	}
	m := string(e.do(t, "GET", "/metrics", "", nil).body)
	if !strings.Contains(m, `sandrun_runs_total{backend="process",status="ok"} 1000`) {
		t.Errorf("metrics do not count 1000 ok runs")
	}
}

// leftover reports whether a process whose command line has marker is
// still alive.
func leftover(marker string) bool {
	ms, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range ms {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), marker) {
			return true
		}
	}
	return false
}

// TestShutdownUnderLoad: on shutdown, short runs in flight finish and are
// answered, long ones are killed at the drain deadline and answered too,
// and no program outlives the server.
func TestShutdownUnderLoad(t *testing.T) {
	logs := &syncBuffer{}
	sb, langs := newSandbox(t, logs)
	srv, err := server.New(server.Options{Sandbox: sb, Languages: langs, AdmissionOptions: server.AdmissionOptions{MaxConcurrent: 8, MaxQueue: 8}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln, 2*time.Second) }()
	url := "http://" + ln.Addr().String()

	const longMarker = "37.4242"
	type answer struct {
		long bool
		code int
		res  sandrun.Result
		err  error
	}
	answers := make(chan answer, 8)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		long := i%2 == 0
		code := "sleep 0.3; echo short"
		if long {
			code = "echo started; sleep " + longMarker + "; echo never"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, _ := json.Marshal(sandrun.Request{Language: "bash", Code: code, Limits: sandrun.Limits{WallTime: sandrun.Duration(time.Minute)}})
			resp, err := http.Post(url+"/v1/runs", "application/json", strings.NewReader(string(body)))
			a := answer{long: long, err: err}
			if err == nil {
				a.code = resp.StatusCode
				a.err = json.NewDecoder(resp.Body).Decode(&a.res)
				resp.Body.Close()
			}
			answers <- a
		}()
	}
	// Shut down once every run is in flight.
	deadline := time.Now().Add(20 * time.Second)
	for !leftover(longMarker) || countLong(longMarker) < 4 {
		if time.Now().After(deadline) {
			t.Fatal("the long runs never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t0 := time.Now()
	stop()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	took := time.Since(t0)
	wg.Wait()
	close(answers)
	for a := range answers {
		if a.err != nil || a.code != 200 {
			t.Errorf("long=%v: HTTP %d, %v (every run in flight must be answered)", a.long, a.code, a.err)
			continue
		}
		switch {
		case !a.long && (a.res.Status != sandrun.StatusOK || a.res.Stdout != "short\n"):
			t.Errorf("a short run did not finish during the drain: %+v", a.res)
		case a.long && (a.res.Status != sandrun.StatusCancelled || strings.Contains(a.res.Stdout, "never") ||
			!strings.Contains(a.res.Error, "server shut down")):
			t.Errorf("a long run was not stopped at the deadline: %+v", a.res)
		}
	}
	if took > 15*time.Second {
		t.Errorf("shutdown took %v with a 2s drain", took)
	}
	if leftover(longMarker) {
		t.Error("a program outlived the server")
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("the server still answers after shutdown")
	}
}

func countLong(marker string) int {
	n := 0
	ms, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range ms {
		b, err := os.ReadFile(p)
		if err == nil && strings.HasPrefix(string(b), "sleep\x00"+marker) {
			n++
		}
	}
	return n
}

// Issue 12 item 11: 48 requests at concurrency 16 to a server with the
// default admission (on 2 cores the old default queue held 8, and 38 got
// 429). The default queue makes a burst of a few dozen per core wait.
func TestDefaultQueueAbsorbsABurst(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: 48 runs")
	}
	e := newEnv(t, nil)
	const n, conc = 48, 16
	codes := make(chan int, n)
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r := e.post(t, "/v1/runs", fmt.Sprintf(`{"language":"bash","code":"sleep 0.2; echo %d"}`, i))
			var res sandrun.Result
			if r.code == 200 {
				r.json(t, &res)
				if res.Stdout != fmt.Sprintf("%d\n", i) {
					t.Errorf("run %d: %+v", i, res)
				}
			}
			codes <- r.code
		}()
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[200] != n {
		t.Fatalf("answers by HTTP status: %v; want all %d answered 200", count, n)
	}
}
