package benchkit

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestInterleaveAndReport(t *testing.T) {
	var order []string
	mk := func(name string) Case {
		return Case{Name: name, Run: func() error { order = append(order, name); return nil }}
	}
	s, err := Interleave(2, 1, mk("a"), mk("b"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(order, "") != "ababab" || len(s[0].Samples) != 2 || len(s[1].Loads) != 2 {
		t.Fatalf("order %v, series %+v", order, s)
	}
	s[0].Samples = []time.Duration{10, 30, 20}
	s[1].Samples = []time.Duration{40, 60, 50}
	s[1].Loads = []float64{1, 3, 2}
	var out bytes.Buffer
	Report(&out, "t", s)
	if !strings.Contains(out.String(), "2.50x") || !strings.Contains(out.String(), "load1") || !strings.Contains(out.String(), "2.50x    2.0") {
		t.Fatalf("report:\n%s", out.String())
	}
	if _, err := Interleave(1, 0, Case{Name: "x", Run: func() error { return errors.New("boom") }}); err == nil || !strings.Contains(err.Error(), "x: boom") {
		t.Fatalf("error: %v", err)
	}
}

func TestReportValues(t *testing.T) {
	a := Values{Name: "base", Unit: "ms"}
	b := Values{Name: "cand", Unit: "ms"}
	for i, x := range []float64{100, 200, 300} {
		a.Add(x, float64(i))
		b.Add(x*0.9, float64(i))
	}
	var out bytes.Buffer
	ReportValues(&out, "v", []Values{a, b})
	if !strings.Contains(out.String(), "0.90x") || !strings.Contains(out.String(), "180.0 ms") {
		t.Fatalf("report:\n%s", out.String())
	}
}

// TestInterleaveShuffled: every case follows every other (each round in
// an order of its own), and each case's samples are its own.
func TestInterleaveShuffled(t *testing.T) {
	var order []string
	mk := func(name string) Case {
		return Case{Name: name, Run: func() error { order = append(order, name); return nil }}
	}
	s, err := InterleaveShuffled(12, 0, mk("a"), mk("b"), mk("c"))
	if err != nil {
		t.Fatal(err)
	}
	after := map[string]int{}
	for i := 1; i < len(order); i++ {
		after[order[i-1]+order[i]]++
	}
	for _, pair := range []string{"ab", "ba", "ac", "ca", "bc", "cb"} {
		if after[pair] < 1 {
			t.Errorf("%s: %d times in %v", pair, after[pair], order)
		}
	}
	for i, name := range []string{"a", "b", "c"} {
		if s[i].Name != name || len(s[i].Samples) != 12 {
			t.Errorf("series %d: %s with %d samples", i, s[i].Name, len(s[i].Samples))
		}
	}
}
