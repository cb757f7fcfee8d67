package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/hostinfo"
)

// AdmissionOptions configure the admission gate.
type AdmissionOptions struct {
	// MaxConcurrent runs at once; 0 means the number of CPUs.
	MaxConcurrent int
	// MaxQueue is how many runs may wait for a slot; beyond it runs are
	// refused (429). 0 means DefaultQueuePerSlot x MaxConcurrent: a burst
	// of a few dozen requests per core waits instead of being turned
	// away. Negative means no queue.
	MaxQueue int
	// MaxQueueBytes bounds the memory the waiting requests hold (their
	// code, stdin and files); 0 means 1/16 of this host's memory, at
	// least 64 MiB.
	MaxQueueBytes int64
	// QueueTimeout is the longest a run waits for a slot; 0 means 30s.
	QueueTimeout time.Duration
	// RatePerToken limits runs per second per caller (token name, or
	// remote address without auth); 0 means no rate limit.
	RatePerToken float64
	// RateBurst is the bucket size of the rate limit; 0 means
	// max(1, 2 x RatePerToken).
	RateBurst int
}

// DefaultQueuePerSlot is the default queue length per concurrency slot.
const DefaultQueuePerSlot = 32

// Admission is the server's sandrun.Admission: the one gate every run and
// session step passes, whichever door (REST, Piston, MCP, sessions) it
// came through. It holds the concurrency slots, the bounded queue, the
// per-caller rate limits, the drain state and the run metrics. Give the
// same Admission to the Sandbox (sandrun.Options.Admission) and to the
// server (Options.Admission).
type Admission struct {
	opts    AdmissionOptions
	limiter *limiter
	rates   *rateLimiter
	metrics *metrics

	// mu orders Admit's draining check and runs.Add against Drain, so
	// that Wait never races an Add.
	mu       sync.Mutex
	draining bool
	runs     sync.WaitGroup

	// runCtx is the parent of every admitted run; Stop cancels it with
	// sandrun.ErrShutdown, which kills what is still running.
	runCtx context.Context
	stop   context.CancelCauseFunc
}

var _ sandrun.Admission = (*Admission)(nil)

// NewAdmission builds the gate.
func NewAdmission(o AdmissionOptions) (*Admission, error) {
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = runtime.NumCPU()
	}
	if o.MaxQueue == 0 {
		o.MaxQueue = DefaultQueuePerSlot * o.MaxConcurrent
	} else if o.MaxQueue < 0 {
		o.MaxQueue = 0
	}
	if o.MaxQueueBytes <= 0 {
		o.MaxQueueBytes = max(64<<20, hostinfo.Read("").Memory/16)
	}
	if o.QueueTimeout <= 0 {
		o.QueueTimeout = 30 * time.Second
	}
	if o.RatePerToken < 0 {
		return nil, errors.New("server: negative RatePerToken")
	}
	if o.RateBurst <= 0 {
		o.RateBurst = max(1, int(2*o.RatePerToken))
	}
	a := &Admission{opts: o, metrics: newMetrics(),
		limiter: newLimiter(o.MaxConcurrent, o.MaxQueue, o.MaxQueueBytes, o.QueueTimeout)}
	if o.RatePerToken > 0 {
		a.rates = newRateLimiter(o.RatePerToken, o.RateBurst)
	}
	a.limiter.onChange = a.metrics.setQueue
	a.runCtx, a.stop = context.WithCancelCause(context.Background())
	return a, nil
}

// Options returns the options with their defaults filled in.
func (a *Admission) Options() AdmissionOptions { return a.opts }

// Admit implements sandrun.Admission: refuse while draining, rate-limit
// the caller, wait in the bounded queue for a slot. The run's context is
// cancelled when the caller leaves or when Stop is called (cause
// sandrun.ErrShutdown).
func (a *Admission) Admit(ctx context.Context, t *sandrun.Ticket) (context.Context, func(*sandrun.Result), error) {
	a.mu.Lock()
	if a.draining {
		a.mu.Unlock()
		a.metrics.rejected.WithLabelValues("draining").Inc()
		return nil, nil, &sandrun.BusyError{Reason: "draining", Msg: "the server is shutting down", RetryAfter: 5 * time.Second}
	}
	a.runs.Add(1)
	a.mu.Unlock()
	admitted := false
	defer func() {
		if !admitted {
			a.runs.Done()
		}
	}()
	if a.rates != nil {
		if ok, wait := a.rates.allow(Caller(ctx)); !ok {
			a.metrics.rejected.WithLabelValues("rate_limited").Inc()
			return nil, nil, &sandrun.BusyError{Reason: "rate_limited", Msg: "rate limit exceeded for this caller",
				RetryAfter: max(time.Second, wait.Round(time.Second))}
		}
	}
	// The run ends when the caller goes away or when Stop is called,
	// whichever comes first; queued runs are covered too.
	rctx, cancel := context.WithCancelCause(ctx)
	unhook := context.AfterFunc(a.runCtx, func() { cancel(context.Cause(a.runCtx)) })
	release, err := a.limiter.acquire(rctx, t.Bytes)
	if err != nil {
		unhook()
		cancel(nil)
		return nil, nil, a.refusal(rctx, err)
	}
	admitted = true
	start := time.Now()
	var once sync.Once
	return rctx, func(res *sandrun.Result) {
		once.Do(func() {
			release()
			unhook()
			cancel(nil)
			a.metrics.observe(res, time.Since(start))
			setLogRun(ctx, res.ID)
			a.runs.Done()
		})
	}, nil
}

// refusal turns a limiter error into what Admit returns.
func (a *Admission) refusal(ctx context.Context, err error) error {
	reason := ""
	switch {
	case errors.Is(err, errQueueFull):
		reason = "queue_full"
	case errors.Is(err, errQueueMemory):
		reason = "queue_memory"
	case errors.Is(err, errQueueTimeout):
		reason = "queue_timeout"
	case errors.Is(context.Cause(ctx), sandrun.ErrShutdown):
		a.metrics.rejected.WithLabelValues("draining").Inc()
		return &sandrun.BusyError{Reason: "draining", Msg: "the server shut down while the run waited for a slot", RetryAfter: 5 * time.Second}
	default: // the caller went away while queued
		return fmt.Errorf("the request was cancelled while queued: %w", err)
	}
	a.metrics.rejected.WithLabelValues(reason).Inc()
	return &sandrun.BusyError{Reason: reason, Msg: err.Error(),
		RetryAfter: time.Duration(a.limiter.retryAfter(a.metrics.typicalRun())) * time.Second}
}

// Drain refuses every run from now on (503, retry later); runs already
// admitted or queued go on.
func (a *Admission) Drain() {
	a.mu.Lock()
	a.draining = true
	a.mu.Unlock()
}

// Draining reports whether Drain was called.
func (a *Admission) Draining() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.draining
}

// Stop cancels every admitted and queued run (cause sandrun.ErrShutdown):
// the backends kill those programs and their results say the server shut
// down.
func (a *Admission) Stop() { a.stop(sandrun.ErrShutdown) }

// Wait waits until every admitted run has finished. Call Drain first.
func (a *Admission) Wait() { a.runs.Wait() }

// InFlight is the number of runs executing now.
func (a *Admission) InFlight() int { return a.limiter.inFlight() }

// Handler serves the Prometheus metrics of the runs this gate admitted.
func (a *Admission) Handler() http.Handler { return a.metrics.handler() }
