package sandrun

import (
	"reflect"
	"strings"
	"testing"
)

// fields() is what fill, check, Resolved and the policy's clamps iterate:
// a Limits field it misses would be left unchecked and unfilled.
func TestFieldsCoverEveryLimit(t *testing.T) {
	var l Limits
	fs := l.fields()
	rt := reflect.TypeOf(l)
	if rt.NumField() != len(fs) {
		t.Fatalf("Limits has %d fields, fields() lists %d", rt.NumField(), len(fs))
	}
	for i, f := range fs {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if f.name != name {
			t.Errorf("fields()[%d] is %q, the struct's field %d is %q", i, f.name, i, name)
		}
		f.set(int64(i + 1))
		if got := reflect.ValueOf(l).Field(i).Int(); got != int64(i+1) {
			t.Errorf("fields()[%d] (%s) sets field %d to %d, want %d", i, f.name, i, got, i+1)
		}
	}
}

func TestFillSetsOnlyZeroFields(t *testing.T) {
	got := Limits{Memory: 5 << 20, Processes: 3}.fill(defaultLimits)
	want := defaultLimits
	want.Memory, want.Processes = 5<<20, 3
	if got != want {
		t.Fatalf("fill = %+v, want %+v", got, want)
	}
	if got := (Limits{}).fill(maxLimits); got != maxLimits {
		t.Fatalf("fill of zero limits = %+v, want %+v", got, maxLimits)
	}
}
