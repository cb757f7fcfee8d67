package kubernetes

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/sandrun/sandrun"
	corev1 "k8s.io/api/core/v1"
)

// warmPool keeps Options.Pool pods per language running, each of the
// default shape and waiting for one request on its stdin. A run claims the
// oldest ready pod of its shape (it leaves the pool at once: one use
// each) and the pool makes a new one. Pods that cannot start are deleted,
// their reason kept for Check, and the refill backs off.
type warmPool struct {
	b  *Backend
	st *state

	mu      sync.Mutex
	ready   map[string][]warmPod // shape key -> ready pods, oldest first
	pending map[string]warmPod   // pod name -> created, not running yet
	failed  map[string]error     // language -> why its last warm pod failed
	retryAt map[string]time.Time // language -> no refill before
	backoff map[string]time.Duration
	kick    chan struct{}
}

type warmPod struct {
	name    string
	shape   shape
	created time.Time
}

func newWarmPool(b *Backend, st *state) *warmPool {
	return &warmPool{b: b, st: st, ready: map[string][]warmPod{}, pending: map[string]warmPod{},
		failed: map[string]error{}, retryAt: map[string]time.Time{}, backoff: map[string]time.Duration{},
		kick: make(chan struct{}, 1)}
}

// defaultShape is the shape warm pods of language have: the default
// limits.
func (p *warmPool) defaultShape(language string) shape {
	d := sandrun.DefaultLimits()
	return shape{Language: language, Image: p.b.Image(language), Memory: d.Memory, WorkDir: d.WorkDir}
}

func (p *warmPool) poke() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// claim takes a ready pod of shape s whose remaining life covers wall, or
// returns false.
func (p *warmPool) claim(s shape, wall time.Duration) (warmPod, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := s.key()
	for len(p.ready[k]) > 0 {
		w := p.ready[k][0]
		p.ready[k] = p.ready[k][1:]
		if time.Since(w.created)+wall+time.Minute < p.b.opts.PoolMaxAge {
			p.poke()
			return w, true
		}
		// Too old for this run's deadline: recycle it.
		p.b.deleteLater(p.st, w.name)
	}
	return warmPod{}, false
}

// failure is why language's warm pods fail to start, or nil.
func (p *warmPool) failure(language string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed[language]
}

func (p *warmPool) readyCount(language string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ready[p.defaultShape(language).key()])
}

// onEvent follows the pool's pods (from the watch goroutine).
func (p *warmPool) onEvent(ev podEvent) {
	name := ev.pod.Name
	p.mu.Lock()
	defer p.mu.Unlock()
	if w, ok := p.pending[name]; ok {
		switch {
		case ev.deleted:
			delete(p.pending, name)
			p.poke()
		case isRunning(ev.pod):
			delete(p.pending, name)
			p.ready[w.shape.key()] = append(p.ready[w.shape.key()], w)
			delete(p.failed, w.shape.Language)
			delete(p.backoff, w.shape.Language)
		default:
			if err := startFailure(ev.pod); err != nil {
				delete(p.pending, name)
				p.fail(w.shape.Language, err)
				p.b.deleteLater(p.st, name)
			}
		}
		return
	}
	if ev.deleted || !isRunning(ev.pod) {
		// A ready pod that died waiting (its deadline, an eviction).
		p.drop(name)
	}
}

// onList forgets pods the list no longer has.
func (p *warmPool) onList(pods []corev1.Pod) {
	have := map[string]bool{}
	for i := range pods {
		have[pods[i].Name] = true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for n := range p.pending {
		if !have[n] {
			delete(p.pending, n)
		}
	}
	for k, ws := range p.ready {
		kept := ws[:0]
		for _, w := range ws {
			if have[w.name] {
				kept = append(kept, w)
			}
		}
		p.ready[k] = kept
	}
	p.poke()
}

// drop removes a ready pod (p.mu held).
func (p *warmPool) drop(name string) {
	for k, ws := range p.ready {
		for i, w := range ws {
			if w.name == name {
				p.ready[k] = append(ws[:i:i], ws[i+1:]...)
				p.b.deleteLater(p.st, name)
				p.poke()
				return
			}
		}
	}
}

// fail records a start failure and backs the language's refill off
// (p.mu held).
func (p *warmPool) fail(language string, err error) {
	p.failed[language] = fmt.Errorf("warm pods of %s fail to start: %w", language, err)
	d := p.backoff[language]
	d = min(max(2*d, 2*time.Second), time.Minute)
	p.backoff[language] = d
	p.retryAt[language] = time.Now().Add(d)
	p.b.opts.Logger.Warn("kubernetes: warm pod failed", "language", language, "err", err, "retry_in", d)
}

// run refills and recycles until ctx ends.
func (p *warmPool) run(ctx context.Context) {
	if len(p.b.opts.Pool) == 0 {
		return
	}
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		p.refill(ctx)
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
		case <-t.C:
		}
	}
}

func (p *warmPool) refill(ctx context.Context) {
	langs := make([]string, 0, len(p.b.opts.Pool))
	for l := range p.b.opts.Pool {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	for _, l := range langs {
		want := p.b.opts.Pool[l]
		s := p.defaultShape(l)
		if s.Image == "" {
			continue
		}
		p.mu.Lock()
		// Recycle pods close to their deadline.
		for _, w := range p.ready[s.key()] {
			if time.Since(w.created) > p.b.opts.PoolMaxAge-2*time.Minute {
				p.drop(w.name)
				break
			}
		}
		have := len(p.ready[s.key()])
		for n, w := range p.pending {
			if w.shape.key() != s.key() {
				continue
			}
			if time.Since(w.created) > p.b.opts.StartTimeout {
				// Unschedulable, or a node that never starts it.
				delete(p.pending, n)
				p.fail(l, fmt.Errorf("pod %s did not start within %s", n, p.b.opts.StartTimeout))
				p.b.deleteLater(p.st, n)
				continue
			}
			have++
		}
		wait := time.Now().Before(p.retryAt[l])
		p.mu.Unlock()
		for ; have < want && !wait && ctx.Err() == nil; have++ {
			w := warmPod{name: p.b.podName(), shape: s, created: time.Now()}
			p.mu.Lock()
			p.pending[w.name] = w
			p.mu.Unlock()
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, err := p.st.api.createPod(cctx, p.b.podSpec(p.st, w.name, s, int64(p.b.opts.PoolMaxAge/time.Second), true))
			cancel()
			if err != nil {
				p.mu.Lock()
				delete(p.pending, w.name)
				if ctx.Err() == nil {
					p.fail(l, err)
				}
				p.mu.Unlock()
				break
			}
		}
	}
}
