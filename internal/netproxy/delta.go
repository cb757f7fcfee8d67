package netproxy

import (
	"strings"

	"github.com/sandrun/sandrun"
)

// Delta is what happened between two records of the same proxy (prev
// taken before cur): the totals' differences, the cap if it was hit in
// between, and the destinations with new attempts or bytes, each with
// its own differences. A session step's usage.network is the Delta of
// the records before and after it. prev nil: all of cur.
func Delta(cur, prev *sandrun.NetworkUsage) *sandrun.NetworkUsage {
	if cur == nil {
		return nil
	}
	if prev == nil {
		prev = &sandrun.NetworkUsage{}
	}
	out := &sandrun.NetworkUsage{
		BytesUp: cur.BytesUp - prev.BytesUp, BytesDown: cur.BytesDown - prev.BytesDown,
		Connections: cur.Connections - prev.Connections, Refused: cur.Refused - prev.Refused,
		Destinations:          []sandrun.NetworkDestination{},
		DestinationsTruncated: cur.DestinationsTruncated && !prev.DestinationsTruncated,
	}
	if prev.LimitHit == "" {
		out.LimitHit = cur.LimitHit
	}
	// A destination's identity is the proxy's record key: the name as
	// tried (any case), port, and the verdict with its reason.
	type key struct {
		host    string
		port    int
		allowed bool
		reason  string
	}
	keyOf := func(d sandrun.NetworkDestination) key {
		return key{strings.ToLower(d.Host), d.Port, d.Allowed, d.Reason}
	}
	before := make(map[key]sandrun.NetworkDestination, len(prev.Destinations))
	for _, d := range prev.Destinations {
		before[keyOf(d)] = d
	}
	for _, d := range cur.Destinations {
		if p, ok := before[keyOf(d)]; ok {
			d.Attempts -= p.Attempts
			d.BytesUp -= p.BytesUp
			d.BytesDown -= p.BytesDown
		}
		if d.Attempts != 0 || d.BytesUp != 0 || d.BytesDown != 0 {
			out.Destinations = append(out.Destinations, d)
		}
	}
	return out
}
