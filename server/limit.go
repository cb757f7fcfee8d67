package server

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// errQueueFull, errQueueMemory and errQueueTimeout are admission
// refusals (429).
var (
	errQueueFull    = errors.New("the server is at its concurrency limit and its queue is full")
	errQueueMemory  = errors.New("the server is at its concurrency limit and the requests waiting hold all the memory its queue may use")
	errQueueTimeout = errors.New("the run waited too long for a free slot")
)

// limiter admits at most n runs at once and lets at most queue more wait,
// holding at most maxBytes of requests between them. A run that finds
// the queue full is refused at once rather than piling up goroutines and
// memory: the caller gets 429 and Retry-After.
type limiter struct {
	slots   chan struct{}
	maxWait time.Duration

	mu       sync.Mutex
	waiting  int
	maxQueue int
	bytes    int64 // held by the waiting requests
	maxBytes int64
	running  int
	// onChange reports (running, waiting) to the metrics.
	onChange func(running, waiting int)
}

func newLimiter(n, queue int, maxBytes int64, maxWait time.Duration) *limiter {
	return &limiter{slots: make(chan struct{}, n), maxQueue: queue, maxBytes: maxBytes, maxWait: maxWait}
}

// acquire takes a slot, waiting in the queue if there is room. release
// must be called once when acquire succeeded.
//
// A newcomer takes a free slot directly only when nobody is queued, so
// that it cannot overtake waiting runs (blocked channel senders are woken
// in order, which keeps the queue roughly first in, first out).
func (l *limiter) acquire(ctx context.Context, size int64) (release func(), err error) {
	l.mu.Lock()
	queued := l.waiting > 0
	l.mu.Unlock()
	if !queued {
		select {
		case l.slots <- struct{}{}:
			l.changed(1, 0)
			return l.release, nil
		default:
		}
	}
	l.mu.Lock()
	if l.waiting >= l.maxQueue {
		l.mu.Unlock()
		return nil, errQueueFull
	}
	if l.waiting > 0 && l.bytes+size > l.maxBytes {
		l.mu.Unlock()
		return nil, errQueueMemory
	}
	l.waiting++
	l.bytes += size
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.bytes -= size
		l.mu.Unlock()
	}()
	l.changed(0, 0)
	t := time.NewTimer(l.maxWait)
	defer t.Stop()
	select {
	case l.slots <- struct{}{}:
		l.changed(1, -1)
		return l.release, nil
	case <-ctx.Done():
		l.changed(0, -1)
		return nil, ctx.Err()
	case <-t.C:
		l.changed(0, -1)
		return nil, errQueueTimeout
	}
}

func (l *limiter) release() {
	<-l.slots
	l.changed(-1, 0)
}

func (l *limiter) changed(dRun, dWait int) {
	l.mu.Lock()
	l.running += dRun
	l.waiting += dWait
	r, w := l.running, l.waiting
	l.mu.Unlock()
	if l.onChange != nil {
		l.onChange(r, w)
	}
}

func (l *limiter) inFlight() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.running
}

// retryAfter estimates, in whole seconds, when a slot may be free: the
// queue ahead divided by the slots, times a typical run, at least 1s.
func (l *limiter) retryAfter(typical time.Duration) int {
	l.mu.Lock()
	w := l.waiting
	l.mu.Unlock()
	if typical <= 0 {
		typical = time.Second
	}
	est := typical.Seconds() * float64(w+1) / float64(cap(l.slots))
	return max(1, int(math.Ceil(est)))
}

// rateLimiter is a token bucket per caller. The map is bounded: past
// maxCallers distinct callers it starts over, which at worst forgives
// some callers a burst.
type rateLimiter struct {
	r     rate.Limit
	burst int

	mu      sync.Mutex
	callers map[string]*rate.Limiter
}

const maxCallers = 10000

func newRateLimiter(perSecond float64, burst int) *rateLimiter {
	return &rateLimiter{r: rate.Limit(perSecond), burst: burst, callers: map[string]*rate.Limiter{}}
}

// allow takes one token for caller; when none is left it returns how long
// until one is.
func (rl *rateLimiter) allow(caller string) (bool, time.Duration) {
	rl.mu.Lock()
	lim, ok := rl.callers[caller]
	if !ok {
		if len(rl.callers) >= maxCallers {
			clear(rl.callers)
		}
		lim = rate.NewLimiter(rl.r, rl.burst)
		rl.callers[caller] = lim
	}
	rl.mu.Unlock()
	res := lim.Reserve()
	if d := res.Delay(); d > 0 {
		res.Cancel()
		return false, d
	}
	return true, 0
}
