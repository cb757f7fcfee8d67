package kubernetes

import (
	"context"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// podEvent is the latest state of one pod.
type podEvent struct {
	pod     *corev1.Pod
	deleted bool
}

// podWatcher keeps one watch on this supervisor's pods (list, then watch
// from the list's resource version, relisting when the watch expires) and
// hands each pod's latest state to whoever waits on it: runs waiting for
// their pod to start or end, and the warm pool. One stream for all runs
// instead of one per run.
type podWatcher struct {
	api      *api
	selector string
	log      *slog.Logger
	// onEvent, if set, sees every event (the warm pool), from the
	// watching goroutine.
	onEvent func(podEvent)
	// onList, if set, sees every full list (the pool forgets pods that
	// vanished while the watch was down).
	onList func([]corev1.Pod)

	mu   sync.Mutex
	subs map[string]chan podEvent
	// synced is closed after the first list: events from then on are
	// complete.
	synced     chan struct{}
	syncedOnce sync.Once
}

func newPodWatcher(a *api, selector string, log *slog.Logger, onEvent func(podEvent)) *podWatcher {
	return &podWatcher{api: a, selector: selector, log: log, onEvent: onEvent,
		subs: map[string]chan podEvent{}, synced: make(chan struct{})}
}

// subscribe returns a channel that receives the pod's latest state each
// time it changes (a newer state replaces an unread one). Subscribe before
// creating the pod so that no event is missed.
func (w *podWatcher) subscribe(name string) (<-chan podEvent, func()) {
	ch := make(chan podEvent, 1)
	w.mu.Lock()
	w.subs[name] = ch
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		if w.subs[name] == ch {
			delete(w.subs, name)
		}
		w.mu.Unlock()
	}
}

func (w *podWatcher) dispatch(ev podEvent) {
	if w.onEvent != nil {
		w.onEvent(ev)
	}
	w.mu.Lock()
	ch := w.subs[ev.pod.Name]
	w.mu.Unlock()
	if ch == nil {
		return
	}
	for {
		select {
		case ch <- ev:
			return
		default:
		}
		select { // drop the stale state, keep the newest
		case <-ch:
		default:
		}
	}
}

// run lists and watches until ctx ends.
func (w *podWatcher) run(ctx context.Context) {
	backoff := 200 * time.Millisecond
	for ctx.Err() == nil {
		rv, err := w.list(ctx)
		if err == nil {
			backoff = 200 * time.Millisecond
			err = w.watch(ctx, rv)
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			w.log.Warn("kubernetes: watching run pods", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 10*time.Second)
		}
	}
}

func (w *podWatcher) list(ctx context.Context) (string, error) {
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	l, err := w.api.listPods(lctx, w.selector)
	if err != nil {
		return "", err
	}
	if w.onList != nil {
		w.onList(l.Items)
	}
	for i := range l.Items {
		w.dispatch(podEvent{pod: &l.Items[i]})
	}
	w.syncedOnce.Do(func() { close(w.synced) })
	return l.ResourceVersion, nil
}

// watch follows events from rv until the stream ends (nil: relist) or
// fails.
func (w *podWatcher) watch(ctx context.Context, rv string) error {
	for {
		wi, err := w.api.watchPods(ctx, w.selector, rv)
		if err != nil {
			return err
		}
		expired := false
		for ev := range wi.ResultChan() {
			switch ev.Type {
			case watch.Added, watch.Modified, watch.Deleted:
				p, ok := ev.Object.(*corev1.Pod)
				if !ok {
					continue
				}
				rv = p.ResourceVersion
				w.dispatch(podEvent{pod: p, deleted: ev.Type == watch.Deleted})
			case watch.Bookmark:
				if p, ok := ev.Object.(*corev1.Pod); ok {
					rv = p.ResourceVersion
				}
			case watch.Error:
				if st, ok := ev.Object.(*metav1.Status); ok && st.Code == 410 {
					expired = true
				} else {
					err = apierrors.FromObject(ev.Object)
				}
			}
		}
		wi.Stop()
		if expired {
			return nil // relist
		}
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The server closed a healthy stream (its timeout): go on from rv.
	}
}
