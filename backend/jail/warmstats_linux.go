//go:build linux

package jail

import (
	"maps"

	"github.com/sandrun/sandrun"
)

// Why a run of a fork language ran cold instead of in a zygote's child
// (sandrun.WarmStatus.Cold). The first three are the warm path's own
// state; the others are requests a child cannot serve as a cold jail
// would.
const (
	coldNoZygote    = "no_zygote"     // none ready: starting, or restarting after one ended
	coldBusy        = "busy"          // every child slot of the zygote in use
	coldZygoteError = "zygote_failed" // the zygote did not fork in time, or broke the protocol (it is replaced)
	coldNetwork     = "network"       // a network allowlist: its proxy lives in a cold jail's namespace
	coldInteractive = "interactive"   // input as it comes and signals: the cold jail's
	coldLocale      = "locale"        // LANG, LC_ALL or LC_CTYPE set: the zygote's stdio encoding is fixed
	coldRuntimeEnv  = "runtime_env"   // a variable of the runtime's changed: its preloaded modules read it
	// A guest's run has no cold path: without a child forked ahead it
	// forks one on its own path (guest_linux.go takeGuest).
	coldNoChildAhead = "no_child_ahead"
)

// warmCounts is one language's part of the warm path's record.
type warmCounts struct {
	warm, restarts int64
	cold           map[string]int64
	lastErr        string // the last start failure, cleared by a start
}

// counts returns name's record; w.mu held.
func (w *warmPath) counts(name string) *warmCounts {
	c := w.perLang[name]
	if c == nil {
		c = &warmCounts{cold: map[string]int64{}}
		w.perLang[name] = c
	}
	return c
}

// record counts a run of name: served warm (reason "") or cold.
func (w *warmPath) record(name, reason string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.counts(name)
	if reason == "" {
		c.warm++
	} else {
		c.cold[reason]++
	}
}

// started records a zygote start of name: err nil, or why it failed;
// restart says it is not the first.
func (w *warmPath) started(name string, restart bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.counts(name)
	if restart {
		c.restarts++
	}
	c.lastErr = ""
	if err != nil {
		c.lastErr = err.Error()
	}
}

// WarmStatus implements sandrun.WarmReporter: per fork language, the
// ready zygote's free child slots and what the warm path did.
// Guests (restricted python) are listed under their names, once their
// zygote was started: Ready is their children forked ahead.
func (b *Backend) WarmStatus() map[string]sandrun.WarmStatus {
	var out map[string]sandrun.WarmStatus
	if w := b.warm; w != nil {
		out = map[string]sandrun.WarmStatus{}
		w.status(out, sandrun.WarmZygote, func(z *zygote, _ string) int { return len(z.slots) })
	}
	b.guest.mu.Lock()
	w, pending := b.guest.path, b.guest.pending
	b.guest.mu.Unlock()
	if w != nil {
		if out == nil {
			out = map[string]sandrun.WarmStatus{}
		}
		w.status(out, sandrun.WarmGuest, func(_ *zygote, name string) int { return len(pending[name]) })
	}
	return out
}

// status adds each of w's zygotes to out, as kind; ready counts what a
// live zygote holds ready.
func (w *warmPath) status(out map[string]sandrun.WarmStatus, kind string, ready func(z *zygote, name string) int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, name := range w.langs {
		c := w.counts(name)
		s := sandrun.WarmStatus{Kind: kind, Tier: Name, Warm: c.warm, Cold: maps.Clone(c.cold), Restarts: c.restarts, Error: c.lastErr}
		if z := w.zs[name]; z != nil {
			select {
			case <-z.dead:
			default:
				s.Ready = ready(z, name)
			}
		}
		out[name] = s
	}
}
