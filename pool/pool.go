// Package pool keeps sandboxed interpreters warm for one-shot runs: each
// is launched ahead of time through a backend's sandrun.Launcher (with
// every protection of that backend applied and the session driver loaded,
// waiting for code), used for exactly one run, and destroyed. The
// request's own limits are applied when a process is taken (SetLimits),
// and a background filler per language keeps the configured number
// ready. A Pool is a sandrun.Backend named "pool", so a Sandbox (and the
// server) can route runs to it.
//
// What is kept warm is only the interpreter's start: no state ever passes
// from one run to the next, because no process serves two runs.
package pool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/driver"
)

// Name is the backend's name.
const Name = "pool"

// Config configures a Pool.
type Config struct {
	// Launcher starts the interpreters (the jail backend in production).
	Launcher sandrun.Launcher
	// Tier names the launcher's backend, for warnings and logs.
	Tier string
	// Sizes is the number of warm interpreters per language (python,
	// javascript). A language with no entry is not served.
	Sizes map[string]int
	// Ceiling are the limits warm interpreters are launched with. A
	// request's limits are applied on top when it takes one; a request
	// asking for more than the ceiling in any field gets a cold launch
	// with its own limits. Zero fields take sandrun's defaults, except
	// WallTime (the longest a warm interpreter waits; default 10 minutes,
	// after which it is replaced) and CPUTime (default 1 minute).
	Ceiling sandrun.Limits
	// ReadyTimeout bounds one interpreter's start; default 30s.
	ReadyTimeout time.Duration
	// Fallback, when set, runs what the pool does not serve warm (no
	// interpreter ready, limits past the ceiling, what program mode
	// cannot do) with the request as it is: the launcher's own backend,
	// cold. Nil: the pool launches a cold interpreter itself. A run with
	// a network allowlist always goes to the fallback (warm interpreters
	// have no proxy); without a fallback that enforces one it is refused.
	Fallback sandrun.Backend
	Logger   *slog.Logger
}

// Stats counts what the pool did.
type Stats struct {
	Hits     int64          `json:"hits"`     // runs served by a warm interpreter
	Misses   int64          `json:"misses"`   // runs that needed a cold launch
	Launched int64          `json:"launched"` // interpreters started, warm or cold
	Ready    map[string]int `json:"ready"`    // warm interpreters waiting now
	Retiring int64          `json:"retiring"` // used interpreters being destroyed now
}

// Pool is a set of warm interpreters per language. Safe for concurrent use.
type Pool struct {
	cfg   Config
	ready map[string]chan *proc
	kick  map[string]chan struct{}
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
	// retiring counts used interpreters being destroyed in the background.
	retiring sync.WaitGroup

	hits, misses, launched, retiringN atomic.Int64
	errMu                             sync.Mutex
	lastErr                           map[string]error
	// statMu guards the per-language record (WarmStatus).
	statMu sync.Mutex
	warm   map[string]int64
	cold   map[string]map[string]int64
}

type proc struct {
	p    sandrun.Launched
	c    *driver.Conn // step mode: the session driver
	born time.Time
	// Program mode (driver.ProgramArgs): no driver; the interpreter runs
	// one program as its main file. Its streams are read from the launch
	// on (into out once a run attaches); exited closes when both are at
	// their end and the interpreter has ended, with exit and exitErr set.
	prog    bool
	out     progSink
	exited  chan struct{}
	exit    *sandrun.LaunchExit
	exitErr error
}

// progSink passes a program-mode interpreter's stdout and stderr to the
// run's captures once the run attaches them (before that: discarded; an
// interpreter waiting for its run writes nothing).
type progSink struct {
	mu sync.Mutex
	w  [2]io.Writer
}

func (s *progSink) attach(stdout, stderr io.Writer) {
	s.mu.Lock()
	s.w = [2]io.Writer{stdout, stderr}
	s.mu.Unlock()
}

type sinkWriter struct {
	s *progSink
	i int
}

func (w sinkWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	dst := w.s.w[w.i]
	w.s.mu.Unlock()
	if dst != nil {
		_, _ = dst.Write(p)
	}
	return len(p), nil
}

// alive reports whether the interpreter can still take a run.
func (w *proc) alive() bool {
	if w.prog {
		select {
		case <-w.exited:
			return false
		default:
			return true
		}
	}
	return w.c.Alive()
}

var _ sandrun.Backend = (*Pool)(nil)

// New validates cfg and starts the fillers.
func New(cfg Config) (*Pool, error) {
	if cfg.Launcher == nil {
		return nil, errors.New("pool: no launcher")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 30 * time.Second
	}
	if cfg.Ceiling.WallTime == 0 {
		cfg.Ceiling.WallTime = sandrun.Duration(10 * time.Minute)
	}
	if cfg.Ceiling.CPUTime == 0 {
		// Room for the interpreter's start on top of the default budget.
		cfg.Ceiling.CPUTime = sandrun.Duration(time.Minute)
	}
	ceiling, err := sandrun.DefaultPolicy().Resolve(cfg.Ceiling)
	if err != nil {
		return nil, fmt.Errorf("pool ceiling: %w", err)
	}
	cfg.Ceiling = ceiling
	p := &Pool{cfg: cfg, ready: map[string]chan *proc{}, kick: map[string]chan struct{}{}, stop: make(chan struct{}), lastErr: map[string]error{}, warm: map[string]int64{}, cold: map[string]map[string]int64{}}
	for lang, n := range cfg.Sizes {
		if _, err := driver.Args(lang, 0); err != nil {
			return nil, fmt.Errorf("pool sizes: %w", err)
		}
		if n < 0 || n > 256 {
			return nil, fmt.Errorf("pool sizes: %s: %d is outside 0..256", lang, n)
		}
		if n == 0 {
			continue
		}
		p.ready[lang] = make(chan *proc, n)
		p.kick[lang] = make(chan struct{}, 1)
	}
	// The fillers start once the maps are complete: they read them while
	// this loop would still be writing (a data race under -race).
	for lang, ch := range p.ready {
		p.wg.Add(1)
		go p.fill(lang, cap(ch))
	}
	return p, nil
}

// Name implements sandrun.Backend.
func (p *Pool) Name() string { return Name }

// Check implements sandrun.Backend: the language must have a pool, and
// when none of its interpreters is ready the last launch must not have
// failed.
func (p *Pool) Check(_ context.Context, language string) error {
	ch, ok := p.ready[language]
	if !ok {
		var have []string
		for k := range p.ready {
			have = append(have, k)
		}
		sort.Strings(have)
		return sandrun.Unsupported(fmt.Sprintf("no warm pool for %s (pools: %s)", language, strings.Join(have, ", ")))
	}
	if len(ch) == 0 {
		p.errMu.Lock()
		err := p.lastErr[language]
		p.errMu.Unlock()
		if err != nil {
			return fmt.Errorf("the %s pool cannot start interpreters: %w", language, err)
		}
	}
	return nil
}

// EnforcesNetwork implements sandrun.NetworkEnforcer: the pool hands a
// run with a network allowlist to its fallback (never to a warm
// interpreter, which has no proxy), so it enforces one when the fallback
// does.
func (p *Pool) EnforcesNetwork() error {
	ne, ok := p.cfg.Fallback.(sandrun.NetworkEnforcer)
	if !ok {
		return errors.New("warm interpreters have no network proxy, and the pool has no fallback tier that can enforce an allowlist")
	}
	return ne.EnforcesNetwork()
}

// Stats returns the counters and how many interpreters are ready.
func (p *Pool) Stats() Stats {
	s := Stats{Hits: p.hits.Load(), Misses: p.misses.Load(), Launched: p.launched.Load(), Retiring: p.retiringN.Load(), Ready: map[string]int{}}
	for k, ch := range p.ready {
		s.Ready[k] = len(ch)
	}
	return s
}

// Close stops the fillers and destroys every warm interpreter, and waits
// for used ones still being destroyed.
func (p *Pool) Close() error {
	p.once.Do(func() {
		close(p.stop)
		p.wg.Wait()
		defer p.retiring.Wait()
		for _, ch := range p.ready {
		drain:
			for {
				select {
				case w := <-ch:
					w.destroy()
				default:
					break drain
				}
			}
		}
	})
	return nil
}

func (p *Pool) launch(ctx context.Context, lang string, lim sandrun.Limits) (*proc, error) {
	if args, files, _, ok := driver.ProgramArgs(lang, entryName(lang), int64(lim.Memory)); ok {
		return p.launchProgram(lang, args, files, lim)
	}
	args, err := driver.Args(lang, int64(lim.Memory))
	if err != nil {
		return nil, err
	}
	p.launched.Add(1)
	l, err := p.cfg.Launcher.Launch(context.WithoutCancel(ctx), &sandrun.LaunchSpec{Language: lang, Args: args, Limits: lim})
	if err != nil {
		return nil, err
	}
	c, err := driver.Start(ctx, l, p.cfg.ReadyTimeout)
	if err != nil {
		_ = l.Kill()
		_, _ = l.Wait()
		return nil, err
	}
	return &proc{p: l, c: c, born: time.Now()}, nil
}

// launchProgram starts a program-mode interpreter and waits until it
// says, on its stderr, that it waits for its run.
func (p *Pool) launchProgram(lang string, args []string, files []sandrun.InputFile, lim sandrun.Limits) (*proc, error) {
	p.launched.Add(1)
	l, err := p.cfg.Launcher.Launch(context.Background(), &sandrun.LaunchSpec{Language: lang, Args: args, Files: files, Limits: lim})
	if err != nil {
		return nil, err
	}
	got := make(chan error, 1)
	go func() {
		b := make([]byte, len(driver.ProgramReady))
		_, err := io.ReadFull(l.Stderr(), b)
		if err == nil && string(b) != driver.ProgramReady {
			err = fmt.Errorf("unexpected start %q", b)
		}
		got <- err
	}()
	t := time.NewTimer(p.cfg.ReadyTimeout)
	defer t.Stop()
	select {
	case err = <-got:
	case <-t.C:
		err = fmt.Errorf("not ready after %s", p.cfg.ReadyTimeout)
	}
	if err != nil {
		_ = l.Kill()
		_, _ = l.Wait()
		return nil, fmt.Errorf("program mode: %w", err)
	}
	w := &proc{p: l, prog: true, born: time.Now(), exited: make(chan struct{})}
	// The launcher's Wait releases the streams: it comes after both
	// are drained, so no output is lost.
	var drained sync.WaitGroup
	for i, r := range []io.Reader{l.Stdout(), l.Stderr()} {
		drained.Add(1)
		go func() {
			defer drained.Done()
			_, _ = io.Copy(sinkWriter{&w.out, i}, r)
		}()
	}
	go func() {
		drained.Wait()
		w.exit, w.exitErr = l.Wait()
		close(w.exited)
	}()
	return w, nil
}

func (w *proc) destroy() (*sandrun.LaunchExit, error) {
	_ = w.p.Kill()
	if w.prog {
		<-w.exited
		return w.exit, w.exitErr
	}
	return w.p.Wait()
}

// reap waits for an interpreter that is ending on its own, so that its
// exit keeps the real cause (memory, CPU), and kills it if it lingers.
func (w *proc) reap() (*sandrun.LaunchExit, error) {
	done := make(chan struct{})
	var ex *sandrun.LaunchExit
	var err error
	go func() {
		ex, err = w.p.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		_ = w.p.Kill()
		<-done
	}
	return ex, err
}

// fill keeps n interpreters of lang ready: it launches one whenever the
// queue has room, and replaces those that waited too long.
func (p *Pool) fill(lang string, n int) {
	defer p.wg.Done()
	ch := p.ready[lang]
	maxAge := p.maxAge()
	backoff := time.Duration(0)
	tick := time.NewTicker(maxAge / 4)
	defer tick.Stop()
	for {
		for len(ch) < n {
			select {
			case <-p.stop:
				return
			default:
			}
			w, err := p.launch(context.Background(), lang, p.cfg.Ceiling)
			p.errMu.Lock()
			p.lastErr[lang] = err
			p.errMu.Unlock()
			if err != nil {
				p.cfg.Logger.Warn("pool: launching a warm interpreter", "language", lang, "tier", p.cfg.Tier, "err", err)
				backoff = min(max(backoff*2, 100*time.Millisecond), 10*time.Second)
				select {
				case <-p.stop:
					return
				case <-time.After(backoff):
				}
				continue
			}
			backoff = 0
			select {
			case ch <- w:
			default:
				w.destroy() // cannot happen with one filler per language
			}
		}
		select {
		case <-p.stop:
			return
		case <-p.kick[lang]:
		case <-tick.C:
			p.retire(lang, maxAge)
		}
	}
}

// retire destroys ready interpreters older than maxAge, before their
// launcher's lifetime limit kills them under a request.
func (p *Pool) retire(lang string, maxAge time.Duration) {
	ch := p.ready[lang]
	for range len(ch) {
		select {
		case w := <-ch:
			if time.Since(w.born) > maxAge || !w.alive() {
				w.destroy()
				continue
			}
			select {
			case ch <- w:
			default:
				w.destroy()
			}
		default:
			return
		}
	}
}

// take returns a warm interpreter of lang, or nil when none is ready.
func (p *Pool) take(lang string) *proc {
	ch, ok := p.ready[lang]
	if !ok {
		return nil
	}
	defer func() {
		select {
		case p.kick[lang] <- struct{}{}:
		default:
		}
	}()
	for {
		select {
		case w := <-ch:
			// One near the end of its launch lifetime is not handed out:
			// the launcher's clock would end the run early.
			if w.alive() && time.Since(w.born) <= p.maxAge() {
				return w
			}
			p.retireBg(w)
		default:
			return nil
		}
	}
}

// maxAge is how long a warm interpreter may wait before it is replaced:
// well within the launcher's lifetime limit (the ceiling's wall time).
func (p *Pool) maxAge() time.Duration { return p.cfg.Ceiling.WallTime.D() * 3 / 4 }

// retireBg destroys an interpreter off the caller's path.
func (p *Pool) retireBg(w *proc) {
	p.retiring.Add(1)
	p.retiringN.Add(1)
	go func() {
		defer p.retiring.Done()
		defer p.retiringN.Add(-1)
		w.destroy()
	}()
}

// covers reports whether the ceiling is at least l in every field the
// launch fixes (wall time is applied per run by the step timeout).
func covers(c, l sandrun.Limits) bool {
	return l.CPUTime <= c.CPUTime && l.Memory <= c.Memory && l.Processes <= c.Processes &&
		l.OpenFiles <= c.OpenFiles && l.FileSize <= c.FileSize && l.WorkDir <= c.WorkDir
}
