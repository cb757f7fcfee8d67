package docker

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
)

// exitWatcher is one events subscription shared by every run of a Backend.
// It replaces a wait request per run (one round trip fewer) and, unlike a
// wait on an auto-removed container, it also tells an OOM kill: the engine
// emits "oom" before "die" for the same container (it handles one
// container's events in order), so when "die" arrives the OOM flag is
// final.
//
// Protocol: a run registers the container ID right after create and
// before start; the watcher delivers the die event to that registration;
// the run unregisters when done. The subscription is opened with a
// "since" a little in the past, so that reconnecting after a dropped
// stream replays what was missed.
type exitWatcher struct {
	cli    *client.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	runs  map[string]*exitInfo
	err   error     // why the stream ended for good
	since time.Time // time of the last event seen, for reconnects
}

// exitInfo is what the engine said about one container.
type exitInfo struct {
	oom      bool
	exitCode int
	died     chan struct{} // closed on the die event
}

func newExitWatcher(ctx context.Context, cli *client.Client) (*exitWatcher, error) {
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w := &exitWatcher{cli: cli, cancel: cancel, done: make(chan struct{}), runs: map[string]*exitInfo{}, since: time.Now().Add(-time.Second)}
	msgs, errs := w.subscribe(wctx)
	// Events returns once the engine has subscribed us, so every event
	// after this point is seen.
	select {
	case err := <-errs:
		cancel()
		return nil, fmt.Errorf("subscribing to engine events: %w", err)
	default:
	}
	go w.loop(wctx, msgs, errs)
	return w, nil
}

func (w *exitWatcher) subscribe(ctx context.Context) (<-chan events.Message, <-chan error) {
	f := filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)),
		filters.Arg("event", string(events.ActionOOM)),
		filters.Arg("event", string(events.ActionDie)),
		filters.Arg("label", LabelBackend+"="+Name),
	)
	w.mu.Lock()
	since := w.since
	w.mu.Unlock()
	return w.cli.Events(ctx, events.ListOptions{Filters: f, Since: fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond())})
}

func (w *exitWatcher) loop(ctx context.Context, msgs <-chan events.Message, errs <-chan error) {
	defer close(w.done)
	failures := 0
	for {
		select {
		case m := <-msgs:
			failures = 0
			w.handle(m)
		case err := <-errs:
			if ctx.Err() != nil {
				w.fail(ctx.Err())
				return
			}
			failures++
			if failures > 5 {
				w.fail(fmt.Errorf("engine events stream: %w", err))
				return
			}
			time.Sleep(time.Duration(failures) * 100 * time.Millisecond)
			msgs, errs = w.subscribe(ctx)
		}
	}
}

func (w *exitWatcher) handle(m events.Message) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if t := time.Unix(0, m.TimeNano); t.After(w.since) {
		w.since = t
	}
	r, ok := w.runs[m.Actor.ID]
	if !ok {
		return
	}
	switch m.Action {
	case events.ActionOOM:
		r.oom = true
	case events.ActionDie:
		select {
		case <-r.died: // a replay after a reconnect
		default:
			r.exitCode, _ = strconv.Atoi(m.Actor.Attributes["exitCode"])
			close(r.died)
		}
	}
}

// fail ends the watcher: runs still waiting learn the reason.
func (w *exitWatcher) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = err
}

// register starts watching container id; call before starting it.
func (w *exitWatcher) register(id string) *exitInfo {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := &exitInfo{died: make(chan struct{})}
	w.runs[id] = r
	return r
}

func (w *exitWatcher) unregister(id string) {
	w.mu.Lock()
	delete(w.runs, id)
	w.mu.Unlock()
}

// wait blocks until the container died, the watcher failed or ctx ends.
func (w *exitWatcher) wait(ctx context.Context, r *exitInfo) (oom bool, code int, err error) {
	select {
	case <-r.died:
		w.mu.Lock()
		defer w.mu.Unlock()
		return r.oom, r.exitCode, nil
	case <-w.done:
		w.mu.Lock()
		defer w.mu.Unlock()
		select {
		case <-r.died:
			return r.oom, r.exitCode, nil
		default:
		}
		return false, 0, fmt.Errorf("lost the engine's events: %w", w.err)
	case <-ctx.Done():
		return false, 0, ctx.Err()
	}
}

// alive reports whether the subscription is still working.
func (w *exitWatcher) alive() bool {
	select {
	case <-w.done:
		return false
	default:
		return true
	}
}

func (w *exitWatcher) close() {
	w.cancel()
	<-w.done
}
