package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/backend/restricted"
	"github.com/sandrun/sandrun/internal/pypolicy"
	"github.com/sandrun/sandrun/lang"
)

// doctorWarm is one language's warm path in `sandrun doctor`: what serve
// keeps warm on this host and, with --warm, what it holds once started
// as serve starts it, after one empty program.
type doctorWarm struct {
	Kind string `json:"kind"` // sandrun.WarmZygote or sandrun.WarmPrestarted
	// Planned is serve's size on this host: the zygote's child slots, or
	// the prestarted interpreters.
	Planned int `json:"planned"`
	// Status is the warm path started (--warm): ready, runs served warm,
	// runs that ran cold and why, the last start failure.
	Status *sandrun.WarmStatus `json:"status,omitempty"`
}

// planWarm lists the languages serve keeps warm, with its sizes on this
// host (warm.go); which languages fork and which are prestarted is the
// language registry's data.
func planWarm(langs *lang.Registry) map[string]doctorWarm {
	plan := hostWarm(langs, config{warm: true})
	out := map[string]doctorWarm{}
	for _, n := range langs.WithWarm(lang.WarmFork) {
		out[n] = doctorWarm{Kind: sandrun.WarmZygote, Planned: plan.fork}
	}
	for n, size := range plan.pool {
		out[n] = doctorWarm{Kind: sandrun.WarmPrestarted, Planned: size}
	}
	return out
}

// warmGuest is a guest of the jail's warm path (restricted python) seen
// from the runs it serves: the backend that runs it and their language.
type warmGuest struct{ backend, language string }

// warmGuests are the guests serve keeps warm, by guest name.
var warmGuests = map[string]warmGuest{pypolicy.GuestName: {restricted.Name, pypolicy.Guest().Language}}

// planGuests adds the guests serve keeps warm here (a zygote of its own,
// jail.GuestPrefork children forked ahead) to plan: those the jail can
// host on this host.
func planGuests(ctx context.Context, a *app, plan map[string]doctorWarm) {
	if a.jail == nil {
		return
	}
	for name := range warmGuests {
		if a.jail.CheckGuest(ctx, name) == nil {
			plan[name] = doctorWarm{Kind: sandrun.WarmGuest, Planned: jail.GuestPrefork}
		}
	}
}

// probeWarm waits (up to wait) until every planned language's warm path
// is ready, runs one empty program of each on the backend that keeps it
// warm (not through the Sandbox: no audit record for a probe), lets the
// pools refill, and fills in each language's status.
func probeWarm(ctx context.Context, a *app, plan map[string]doctorWarm, wait time.Duration) {
	deadline := time.Now().Add(wait)
	untilReady := func() map[string]sandrun.WarmStatus {
		for {
			st := a.sandbox.WarmStatus()
			ready := true
			for n := range plan {
				ready = ready && st[n].Ready > 0
			}
			if ready || time.Now().After(deadline) || ctx.Err() != nil {
				return st
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	untilReady()
	keeper := map[string]sandrun.Backend{}
	for _, b := range a.sandbox.Backends() {
		if wr, ok := b.(sandrun.WarmReporter); ok {
			for n := range wr.WarmStatus() {
				if _, seen := keeper[n]; !seen {
					keeper[n] = b
				}
			}
		}
	}
	for _, n := range slices.Sorted(maps.Keys(plan)) {
		b, language := keeper[n], n
		if g, ok := warmGuests[n]; ok {
			// A guest's runs are its backend's, in its language.
			b, language = nil, g.language
			for _, x := range a.sandbox.Backends() {
				if x.Name() == g.backend {
					b = x
				}
			}
		}
		if b != nil {
			// An empty program is valid in every language; its outcome is
			// in the status (served warm, or cold and why).
			_, _ = b.Run(ctx, &sandrun.Request{Language: language, Limits: sandrun.DefaultLimits().WithDefaults()})
		}
	}
	st := untilReady()
	for n, d := range plan {
		if s, ok := st[n]; ok {
			d.Status = &s
			plan[n] = d
		}
	}
}

// printWarm writes the warm path section of `sandrun doctor`.
func printWarm(w io.Writer, plan map[string]doctorWarm, probed bool) {
	if len(plan) == 0 {
		return
	}
	fmt.Fprintln(w, "\nwarm path (what serve keeps warm on this host):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  LANGUAGE\tKIND\tSERVE KEEPS\tREADY\tWARM\tCOLD")
	for _, n := range slices.Sorted(maps.Keys(plan)) {
		d := plan[n]
		size := fmt.Sprintf("%d interpreters", d.Planned)
		switch d.Kind {
		case sandrun.WarmZygote:
			size = fmt.Sprintf("1 zygote, %d child slots", d.Planned)
		case sandrun.WarmGuest:
			size = fmt.Sprintf("1 zygote, %d children forked ahead", d.Planned)
		}
		ready, warm, cold := "-", "-", "-"
		if s := d.Status; s != nil {
			ready, warm, cold = fmt.Sprint(s.Ready), fmt.Sprint(s.Warm), coldText(s.Cold)
			if s.Error != "" {
				cold += " (last start failed: " + s.Error + ")"
			}
		} else if probed {
			ready = "not started"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", n, d.Kind, size, ready, warm, cold)
	}
	tw.Flush()
	if !probed {
		fmt.Fprintln(w, "  (sandrun doctor --warm starts it as serve does and runs one empty program per language)")
	}
}

// coldText is "0", or the runs that ran cold by reason.
func coldText(cold map[string]int64) string {
	var total int64
	var parts []string
	for _, why := range slices.Sorted(maps.Keys(cold)) {
		total += cold[why]
		parts = append(parts, fmt.Sprintf("%s %d", why, cold[why]))
	}
	if total == 0 {
		return "0"
	}
	return fmt.Sprintf("%d: %s", total, strings.Join(parts, ", "))
}
