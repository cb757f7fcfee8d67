package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sandrun/sandrun"
)

// Options configure a Log.
type Options struct {
	// Open opens the store. It is called on first use (so a command that
	// never runs code never creates a database) and again after a failure,
	// at most once per RetryOpen.
	Open func(ctx context.Context) (Store, error)
	// Describe names the store for doctor before it is open
	// ("sqlite /home/u/.local/state/sandrun/audit.db").
	Describe string
	// StoreCode keeps the code text in each entry. Off by default: the
	// hash identifies the code without keeping it (privacy).
	StoreCode bool
	// Version is the sandrun version written with each entry.
	Version string
	// Host names this node; default os.Hostname().
	Host string
	// WriteTimeout bounds one write, opening included (default 2s). A
	// write that takes longer is abandoned and counted as failed; the run
	// it records is already finished and returned regardless.
	WriteTimeout time.Duration
	// MaxInFlight caps writes still running after their timeout (a hung
	// store): beyond it new writes fail at once instead of piling up
	// goroutines (default 4).
	MaxInFlight int
	// RetryOpen is the wait after a failed open before trying again
	// (default 5s); writes in between fail fast with the open error.
	RetryOpen time.Duration
	// Retention bounds the log; pruning runs after the first write and
	// every PruneEvery writes (default 200), off the caller's path.
	Retention  Retention
	PruneEvery int
	Logger     *slog.Logger
	// OneShot: the process records a run and exits (`sandrun run`). The
	// store's write-ahead log is then checkpointed after the first write
	// (the record of the run as it starts), while the run goes on, and
	// CloseAtExit leaves the store to the exit.
	OneShot bool
}

// Log is the audit log: a sandrun.Recorder and the read API (Get, List)
// the CLI and the HTTP server use. It is safe for concurrent use.
type Log struct {
	opts  Options
	slots chan struct{} // in-flight writes
	wg    sync.WaitGroup

	mu       sync.Mutex
	store    Store
	openErr  error
	openedAt time.Time // of the last failed open

	writer string // this process, for the records it begins

	// begun holds, per run id, the outcome of its Begin write, which
	// Record waits for before completing the record.
	beginMu sync.Mutex
	begun   map[string]chan error

	writes  atomic.Int64
	fails   atomic.Int64
	lastErr atomic.Pointer[failure]
}

type failure struct {
	at  time.Time
	err error
}

var (
	_ sandrun.Recorder   = (*Log)(nil)
	_ sandrun.RunStarter = (*Log)(nil)
	_ sandrun.Diagnoser  = (*Log)(nil)
)

// ErrStalled is returned when too many earlier writes are still hung.
var ErrStalled = errors.New("audit: the store is stalled: earlier writes have not returned")

// New builds a Log. It opens nothing yet.
func New(o Options) (*Log, error) {
	if o.Open == nil {
		return nil, errors.New("audit: Options.Open is required")
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 2 * time.Second
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 4
	}
	if o.RetryOpen <= 0 {
		o.RetryOpen = 5 * time.Second
	}
	if o.PruneEvery <= 0 {
		o.PruneEvery = 200
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Host == "" {
		o.Host, _ = os.Hostname()
	}
	return &Log{opts: o, slots: make(chan struct{}, o.MaxInFlight), writer: writerID(), begun: map[string]chan error{}}, nil
}

// Begin writes the run's record as it starts, with status running, so
// that a run in flight when this process dies leaves a record (marked
// interrupted by the next process on this host that opens the log)
// instead of none. The write runs in the background, overlapping the run;
// Record waits for it and completes the record.
func (l *Log) Begin(ctx context.Context, req *sandrun.Request, res *sandrun.Result) error {
	e := l.entry(ctx, req, res)
	e.Status, e.ExitCode, e.Writer = StatusRunning, -1, l.writer
	done := make(chan error, 1)
	l.beginMu.Lock()
	l.begun[e.ID] = done
	l.beginMu.Unlock()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		// Not counted as a failed write: Record will write the run's
		// record anyway (and count it if that fails too); only the
		// crash-safety of this one run is lost, which is logged.
		err := l.write(ctx, e, func(ctx context.Context, st Store) error { return st.Insert(ctx, e) }, false)
		if err != nil {
			l.opts.Logger.Warn("audit: the record of a starting run could not be written; it is written when the run ends", "run", e.ID, "err", err)
		}
		done <- err
	}()
	return nil
}

// Record writes the run's entry: it completes the record Begin wrote, or
// inserts one. It returns within twice WriteTimeout whatever the store
// does; an error is counted (Errors, Diagnose) and returned for the
// Sandbox to log.
func (l *Log) Record(ctx context.Context, req *sandrun.Request, res *sandrun.Result) error {
	e := l.entry(ctx, req, res)
	l.beginMu.Lock()
	begun, ok := l.begun[e.ID]
	delete(l.begun, e.ID)
	l.beginMu.Unlock()
	if ok && <-begun == nil {
		return l.write(ctx, e, func(ctx context.Context, st Store) error {
			err := st.Update(ctx, e)
			if errors.Is(err, ErrNotFound) { // the file was replaced since Begin
				err = st.Insert(ctx, e)
			}
			return err
		}, true)
	}
	return l.Insert(ctx, e)
}

func (l *Log) entry(ctx context.Context, req *sandrun.Request, res *sandrun.Result) *Entry {
	e := NewEntry(req, res, l.opts.StoreCode)
	e.Caller, e.Host, e.Version = CallerFrom(ctx), l.opts.Host, l.opts.Version
	return e
}

// Insert writes a prepared entry with Record's guarantees.
func (l *Log) Insert(ctx context.Context, e *Entry) error {
	return l.write(ctx, e, func(ctx context.Context, st Store) error { return st.Insert(ctx, e) }, true)
}

// write runs op on the store in its own goroutine and waits at most
// WriteTimeout; a failure is counted when count is set. A store whose
// file was replaced is reopened and op retried once; the replacement is
// always counted as a failure, so that it shows in /metrics, /readyz and
// doctor.
func (l *Log) write(ctx context.Context, e *Entry, op func(context.Context, Store) error, count bool) error {
	fail := func(err error) error {
		if count {
			return l.fail(err)
		}
		return err
	}
	select {
	case l.slots <- struct{}{}:
	default:
		return fail(ErrStalled)
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.opts.WriteTimeout)
	defer cancel()
	done := make(chan error, 1)
	l.wg.Add(1)
	// The write runs in its own goroutine so that a driver that ignores
	// the context cannot hold the caller past the timeout; the slot is
	// released only when the driver really returns.
	go func() {
		defer l.wg.Done()
		defer func() { <-l.slots }()
		st, err := l.open(wctx)
		if err == nil {
			err = op(wctx, st)
		}
		if errors.Is(err, ErrReplaced) {
			l.fail(fmt.Errorf("%w; reopened it, the records written since it went are lost", err))
			l.opts.Logger.Error("audit database replaced under the log; reopening", "err", err)
			l.drop(st)
			if st, err = l.open(wctx); err == nil {
				err = op(wctx, st)
			}
		}
		done <- err
		// Prune after the first write (a CLI process writes once) and then
		// every PruneEvery writes, after the caller has its answer.
		if err == nil {
			if n := l.writes.Add(1); n == 1 || n%int64(l.opts.PruneEvery) == 0 {
				l.prune(st)
				if n == 1 && l.opts.OneShot {
					l.checkpoint(st)
				}
			}
		}
	}()
	select {
	case err := <-done:
		if err != nil {
			return fail(err)
		}
		return nil
	case <-wctx.Done():
		return fail(fmt.Errorf("audit: write of run %s timed out after %s (store hung or locked)", e.ID, l.opts.WriteTimeout))
	}
}

func (l *Log) fail(err error) error {
	l.fails.Add(1)
	l.lastErr.Store(&failure{at: time.Now(), err: err})
	return err
}

// open returns the store, opening it on first use. After a failed open it
// returns the same error without retrying until RetryOpen has passed.
func (l *Log) open(ctx context.Context) (Store, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.store != nil {
		return l.store, nil
	}
	if l.openErr != nil && time.Since(l.openedAt) < l.opts.RetryOpen {
		return nil, l.openErr
	}
	st, err := l.opts.Open(ctx)
	if err != nil {
		l.openErr, l.openedAt = err, time.Now()
		return nil, err
	}
	l.store, l.openErr = st, nil
	// Records this host began whose process is gone were interrupted.
	if n, err := st.MarkInterrupted(ctx, l.opts.Host, writerAlive); err != nil {
		l.opts.Logger.Warn("audit: marking interrupted runs", "err", err)
	} else if n > 0 {
		l.opts.Logger.Warn("audit: runs interrupted by the end of their process", "runs", n)
	}
	return st, nil
}

// drop forgets st (if it is still the store) and closes it, so that the
// next open opens the path again.
func (l *Log) drop(st Store) {
	l.mu.Lock()
	if l.store == st {
		l.store = nil
	}
	l.mu.Unlock()
	_ = st.Close()
}

func (l *Log) prune(st Store) {
	if l.opts.Retention == (Retention{}) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*l.opts.WriteTimeout)
	defer cancel()
	n, err := st.Prune(ctx, l.opts.Retention)
	if err != nil {
		l.opts.Logger.Warn("audit prune failed", "err", err)
		return
	}
	if n > 0 {
		l.opts.Logger.Info("audit pruned", "runs", n)
	}
}

// checkpoint moves the store's write-ahead log into its file (SQLite),
// for a OneShot process, off the caller's path rather than at its close:
// its first write is the record of its run as it starts (Begin), so the
// checkpoint overlaps the program, and the log CloseAtExit leaves for the
// next opener to recover holds little more than the run's last record.
func (l *Log) checkpoint(st Store) {
	c, ok := st.(interface{ Checkpoint(context.Context) error })
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*l.opts.WriteTimeout)
	defer cancel()
	if err := c.Checkpoint(ctx); err != nil {
		l.opts.Logger.Warn("audit checkpoint failed", "err", err)
	}
}

// Warm opens the store in the background, so that the first Record does
// not pay for opening it (the CLI calls it before the program starts: the
// open overlaps the run). An open error is kept for Record to report.
func (l *Log) Warm() {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*l.opts.WriteTimeout)
		defer cancel()
		l.open(ctx)
	}()
}

// Store opens the store now (if needed) and returns it, for reads and
// maintenance.
func (l *Log) Store(ctx context.Context) (Store, error) { return l.open(ctx) }

// Get returns one run by its exact id (ErrNotFound when unknown).
func (l *Log) Get(ctx context.Context, id string) (*Entry, error) {
	st, err := l.open(ctx)
	if err != nil {
		return nil, err
	}
	return st.Get(ctx, id)
}

// List returns the runs f selects, newest first.
func (l *Log) List(ctx context.Context, f Filter) ([]*Entry, error) {
	st, err := l.open(ctx)
	if err != nil {
		return nil, err
	}
	return st.List(ctx, f)
}

// Prune applies the retention now and returns how many runs it removed.
func (l *Log) Prune(ctx context.Context) (int64, error) {
	st, err := l.open(ctx)
	if err != nil {
		return 0, err
	}
	return st.Prune(ctx, l.opts.Retention)
}

// Errors counts the writes that failed in this process.
func (l *Log) Errors() int64 { return l.fails.Load() }

// LastError is the most recent write failure and when it happened.
func (l *Log) LastError() (time.Time, error) {
	if f := l.lastErr.Load(); f != nil {
		return f.at, f.err
	}
	return time.Time{}, nil
}

// Diagnose reports the store's health for `sandrun doctor`: whether it
// opens, its schema and size, whether a write would succeed now, and the
// failed writes of this process.
func (l *Log) Diagnose(ctx context.Context) []sandrun.Diagnostic {
	ctx, cancel := context.WithTimeout(ctx, l.opts.WriteTimeout)
	defer cancel()
	var out []sandrun.Diagnostic
	st, err := l.open(ctx)
	if err != nil {
		out = append(out, sandrun.Diagnostic{Name: "audit store", Detail: fmt.Sprintf("cannot open: %v", err)})
	} else if s, err := st.Stats(ctx); err != nil {
		out = append(out, sandrun.Diagnostic{Name: "audit store", Detail: fmt.Sprintf("%s: %v", l.opts.Describe, err)})
	} else {
		out = append(out, sandrun.Diagnostic{Name: "audit store", OK: true, Detail: describeStats(s, l.opts)})
		d := sandrun.Diagnostic{Name: "audit store writable", OK: true, Detail: "a write would succeed now"}
		if err := st.CheckWritable(ctx); err != nil {
			d.OK, d.Detail = false, err.Error()
		}
		out = append(out, d)
	}
	if st != nil {
		out = append(out, interrupted(ctx, st))
	}
	d := sandrun.Diagnostic{Name: "audit write errors", OK: true, Detail: fmt.Sprintf("no failed writes in this process (%d written)", l.writes.Load())}
	if n := l.Errors(); n > 0 {
		at, err := l.LastError()
		d.OK, d.Warn = false, true
		d.Detail = fmt.Sprintf("%d failed writes in this process; last at %s: %v", n, at.UTC().Format(time.RFC3339), err)
	}
	return append(out, d)
}

// interruptedWindow is how far back doctor looks for interrupted runs.
const interruptedWindow = 7 * 24 * time.Hour

// interrupted reports the runs of the last week whose process died before
// completing their record: each is a run whose outcome nobody knows.
func interrupted(ctx context.Context, st Store) sandrun.Diagnostic {
	d := sandrun.Diagnostic{Name: "audit interrupted runs", OK: true}
	got, err := st.List(ctx, Filter{Status: StatusInterrupted, Since: time.Now().Add(-interruptedWindow), Limit: 1000})
	switch {
	case err != nil:
		d.OK, d.Detail = false, "cannot count them: "+err.Error()
	case len(got) == 0:
		d.Detail = "none in the last 7 days"
	default:
		d.OK, d.Warn = false, true
		d.Detail = fmt.Sprintf("%d runs in the last 7 days, the last at %s, were cut short by the end of the process recording them "+
			"(a crash or kill -9): `sandrun audit list --status interrupted`", len(got), got[0].StartedAt.UTC().Format(time.RFC3339))
	}
	return d
}

func describeStats(s Stats, o Options) string {
	msg := fmt.Sprintf("%s %s: schema v%d, %d runs", s.Kind, s.Location, s.Schema, s.Runs)
	if s.Runs > 0 {
		msg += fmt.Sprintf(" (%s to %s)", s.Oldest.Format(time.DateOnly), s.Newest.Format(time.DateOnly))
	}
	r := o.Retention
	switch {
	case r.MaxAge > 0 && r.MaxRuns > 0:
		msg += fmt.Sprintf("; keeps %s, at most %d runs", fmtAge(r.MaxAge), r.MaxRuns)
	case r.MaxAge > 0:
		msg += fmt.Sprintf("; keeps %s", fmtAge(r.MaxAge))
	case r.MaxRuns > 0:
		msg += fmt.Sprintf("; keeps at most %d runs", r.MaxRuns)
	default:
		msg += "; no retention limit"
	}
	if o.StoreCode {
		msg += "; stores code text"
	}
	return msg
}

func fmtAge(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// Close waits (at most WriteTimeout) for writes and pruning still running,
// then closes the store.
func (l *Log) Close() error { return l.close(false) }

// CloseAtExit is Close for a process that exits right after (a one-shot
// `sandrun run`): it waits for the writes the same way, then makes them
// durable and leaves the store's connection to the exit where the store
// can (SQLite: SQLStore.CloseAtExit), which spares the exit the
// checkpoint a close makes. The Log must not be used afterwards.
func (l *Log) CloseAtExit() error { return l.close(true) }

func (l *Log) close(atExit bool) error {
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(l.opts.WriteTimeout):
	}
	// An open that hangs holds the mutex; do not hang with it.
	if !l.mu.TryLock() {
		return errors.New("audit: the store is still opening; abandoned")
	}
	defer l.mu.Unlock()
	if l.store == nil {
		return nil
	}
	var err error
	if c, ok := l.store.(interface{ CloseAtExit() error }); ok && atExit {
		err = c.CloseAtExit()
	} else {
		err = l.store.Close()
	}
	l.store = nil
	return err
}
