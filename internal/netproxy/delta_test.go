package netproxy_test

import (
	"reflect"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/netproxy"
)

func TestDelta(t *testing.T) {
	a := sandrun.NetworkDestination{Host: "hosta.test", Port: 443, Allowed: true, Address: "10.0.0.2", Attempts: 1, BytesUp: 10, BytesDown: 100}
	b := sandrun.NetworkDestination{Host: "hostb.test", Port: 443, Reason: "not in the allowlist", Attempts: 1}
	prev := &sandrun.NetworkUsage{BytesUp: 10, BytesDown: 100, Connections: 1, Refused: 1, Destinations: []sandrun.NetworkDestination{a, b}}
	// Then: A again (more bytes), B untouched, C new, and the cap.
	a2 := a
	a2.Attempts, a2.BytesUp, a2.BytesDown = 3, 30, 1000
	c := sandrun.NetworkDestination{Host: "HostC.test", Port: 80, Reason: "private", Attempts: 2}
	cur := &sandrun.NetworkUsage{BytesUp: 30, BytesDown: 1000, Connections: 3, Refused: 3, LimitHit: "bytes_down",
		Destinations: []sandrun.NetworkDestination{a2, b, c}}
	got := netproxy.Delta(cur, prev)
	want := &sandrun.NetworkUsage{BytesUp: 20, BytesDown: 900, Connections: 2, Refused: 2, LimitHit: "bytes_down",
		Destinations: []sandrun.NetworkDestination{
			{Host: "hosta.test", Port: 443, Allowed: true, Address: "10.0.0.2", Attempts: 2, BytesUp: 20, BytesDown: 900}, c}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Delta:\n got %+v\nwant %+v", got, want)
	}
	// A cap hit before prev is not this step's.
	if d := netproxy.Delta(cur, cur); d.LimitHit != "" || len(d.Destinations) != 0 || d.BytesDown != 0 || d.Destinations == nil {
		t.Fatalf("Delta(cur, cur) = %+v", d)
	}
	if d := netproxy.Delta(prev, nil); !reflect.DeepEqual(d, prev) {
		t.Fatalf("Delta(prev, nil) = %+v", d)
	}
	if netproxy.Delta(nil, prev) != nil {
		t.Fatal("Delta(nil, ...) is not nil")
	}
}
