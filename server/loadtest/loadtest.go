// Package loadtest drives a sandrun server with N runs at concurrency C
// and checks that every run came back, and came back with its own output:
// each run's code prints a marker unique to it and echoes its stdin, so a
// result delivered to the wrong caller, or a lost one, is caught.
package loadtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/lang"
)

// Options configure a load run.
type Options struct {
	// URL is the server's base URL (http://127.0.0.1:8770).
	URL string
	// Token is the bearer token, if the server wants one.
	Token string
	// N runs, Concurrency at a time.
	N, Concurrency int
	// Language: python, javascript or bash (default bash, the cheapest to
	// start, so the server rather than the interpreter is measured).
	Language string
	// Client is the HTTP client; nil means one with a 2-minute timeout.
	Client *http.Client
	// MaxRetries for answers of 429 (honouring Retry-After, capped at 2s).
	MaxRetries int
}

// Report is what happened.
type Report struct {
	N, Concurrency int
	OK             int // status ok and the output was the run's own
	Errors         int // no answer, a non-200 answer, or a status other than ok
	Mixed          int // an answer with another run's output or a reused id
	Retries        int // 429s retried
	Elapsed        time.Duration
	Latencies      []time.Duration // of the successful runs
	// Samples holds up to 5 error messages.
	Samples []string
}

// Throughput is runs per second.
func (r *Report) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.N) / r.Elapsed.Seconds()
}

// P returns the q-quantile latency.
func (r *Report) P(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	c := slices.Clone(r.Latencies)
	slices.Sort(c)
	return c[int(q*float64(len(c)-1))]
}

func (r *Report) String() string {
	return fmt.Sprintf("%d runs at concurrency %d: %d ok, %d errors, %d mixed up, %d retries after 429; "+
		"%.1fs, %.1f runs/s; latency p50 %v, p99 %v, max %v",
		r.N, r.Concurrency, r.OK, r.Errors, r.Mixed, r.Retries, r.Elapsed.Seconds(), r.Throughput(),
		r.P(0.5).Round(time.Millisecond), r.P(0.99).Round(time.Millisecond), r.P(1).Round(time.Millisecond))
}

// Clean reports whether every run came back ok with its own output.
func (r *Report) Clean() bool { return r.OK == r.N && r.Errors == 0 && r.Mixed == 0 }

// program returns code that prints marker and echoes one line of stdin.
func program(language, marker string) (string, error) {
	switch language {
	case lang.Bash:
		return "read -r x; echo \"" + marker + ":$x\"", nil
	case lang.Python:
		return "import sys\nprint('" + marker + ":' + sys.stdin.readline().strip())", nil
	case lang.JavaScript:
		return "const x = require('fs').readFileSync(0, 'utf8').trim(); console.log('" + marker + ":' + x)", nil
	}
	return "", fmt.Errorf("loadtest: language %q is not one of bash, python, javascript", language)
}

// Run sends the runs and checks the answers.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.N <= 0 || o.Concurrency <= 0 {
		return nil, errors.New("loadtest: N and Concurrency must be positive")
	}
	if o.Language == "" {
		o.Language = lang.Bash
	}
	if _, err := program(o.Language, "x"); err != nil {
		return nil, err
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 2 * time.Minute}
	}
	nonce := make([]byte, 6)
	_, _ = rand.Read(nonce)
	prefix := "load-" + hex.EncodeToString(nonce)

	rep := &Report{N: o.N, Concurrency: o.Concurrency}
	var mu sync.Mutex
	ids := map[string]bool{}
	jobs := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < o.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				marker := fmt.Sprintf("%s-%d", prefix, i)
				stdin := strconv.Itoa(i * 7919)
				res, lat, retries, err := one(ctx, o, marker, stdin)
				mu.Lock()
				rep.Retries += retries
				switch {
				case err != nil:
					rep.Errors++
					if len(rep.Samples) < 5 {
						rep.Samples = append(rep.Samples, fmt.Sprintf("run %d: %v", i, err))
					}
				case res.Stdout != marker+":"+stdin+"\n" || ids[res.ID]:
					rep.Mixed++
					if len(rep.Samples) < 5 {
						rep.Samples = append(rep.Samples, fmt.Sprintf("run %d: got stdout %q id %s", i, res.Stdout, res.ID))
					}
				case res.Status != sandrun.StatusOK:
					rep.Errors++
					if len(rep.Samples) < 5 {
						rep.Samples = append(rep.Samples, fmt.Sprintf("run %d: status %s: %s", i, res.Status, res.Error))
					}
				default:
					rep.OK++
					rep.Latencies = append(rep.Latencies, lat)
				}
				if err == nil {
					ids[res.ID] = true
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < o.N && ctx.Err() == nil; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	rep.Elapsed = time.Since(start)
	if n := rep.OK + rep.Errors + rep.Mixed; n != o.N {
		rep.Errors += o.N - n // never sent: ctx ended
	}
	return rep, ctx.Err()
}

// one sends one run, retrying 429s.
func one(ctx context.Context, o Options, marker, stdin string) (*sandrun.Result, time.Duration, int, error) {
	code, _ := program(o.Language, marker)
	body, _ := json.Marshal(sandrun.Request{Language: o.Language, Code: code, Stdin: stdin + "\n"})
	for retries := 0; ; retries++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL+"/v1/runs", bytes.NewReader(body))
		if err != nil {
			return nil, 0, retries, err
		}
		req.Header.Set("Content-Type", "application/json")
		if o.Token != "" {
			req.Header.Set("Authorization", "Bearer "+o.Token)
		}
		t0 := time.Now()
		resp, err := o.Client.Do(req)
		if err != nil {
			return nil, 0, retries, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		lat := time.Since(t0)
		if err != nil {
			return nil, 0, retries, err
		}
		if resp.StatusCode == http.StatusTooManyRequests && retries < o.MaxRetries {
			wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			select {
			case <-time.After(min(time.Duration(max(wait, 1))*time.Second, 2*time.Second)):
			case <-ctx.Done():
				return nil, 0, retries, ctx.Err()
			}
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return nil, 0, retries, fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, b)
		}
		var res sandrun.Result
		if err := json.Unmarshal(b, &res); err != nil {
			return nil, 0, retries, fmt.Errorf("decoding the answer: %w", err)
		}
		return &res, lat, retries, nil
	}
}
