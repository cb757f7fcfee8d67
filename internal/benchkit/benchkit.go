// Package benchkit measures candidates against a baseline in the same run,
// interleaved (A B A B ...), and reports medians, min, max, the ratio of
// medians and the machine's 1-minute load average while each case ran.
// Absolute times on these shared machines mean little; ratios measured
// side by side do, and the load says how far to trust them.
package benchkit

import (
	"cmp"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"
)

// Case is one thing to time. Run does one iteration.
type Case struct {
	Name string
	Run  func() error
}

// Series is the timings of one case, and the 1-minute load average read
// before each timed sample.
type Series struct {
	Name    string
	Samples []time.Duration
	Loads   []float64
}

// Load1 is the host's 1-minute load average (0 if unknown).
func Load1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _, _ := strings.Cut(string(b), " ")
	v, _ := strconv.ParseFloat(f, 64)
	return v
}

// Load is the median load average of the series' samples ("-" if none).
func (s Series) Load() string {
	if len(s.Loads) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", pct(s.Loads, 0.5))
}

// Median, Min and Max of the samples.
func (s Series) Median() time.Duration { return pct(s.Samples, 0.5) }
func (s Series) Min() time.Duration    { return pct(s.Samples, 0) }
func (s Series) Max() time.Duration    { return pct(s.Samples, 1) }

// P returns the q-quantile (0..1) of the samples.
func (s Series) P(q float64) time.Duration { return pct(s.Samples, q) }

// pct is the q-quantile (0..1) of v (the zero value if v is empty).
func pct[T cmp.Ordered](v []T, q float64) T {
	var zero T
	if len(v) == 0 {
		return zero
	}
	c := slices.Clone(v)
	slices.Sort(c)
	return c[int(q*float64(len(c)-1))]
}

// Interleave runs warmup untimed rounds, then n rounds of every case in
// turn. The first case is the baseline.
func Interleave(n, warmup int, cases ...Case) ([]Series, error) {
	return interleave(n, warmup, false, cases)
}

// InterleaveShuffled is Interleave with each round in an order of its
// own (a shuffle with a fixed seed: the same rounds every time), so that
// every case follows every other: a case measured right after a much
// longer one (a bare spawn) pays for what that one left behind (idle
// CPUs to wake up), and in a fixed order the same case always would. The
// first case is the baseline.
func InterleaveShuffled(n, warmup int, cases ...Case) ([]Series, error) {
	return interleave(n, warmup, true, cases)
}

func interleave(n, warmup int, shuffle bool, cases []Case) ([]Series, error) {
	out := make([]Series, len(cases))
	for i, c := range cases {
		out[i].Name = c.Name
	}
	rng := rand.New(rand.NewPCG(1, 2))
	order := make([]int, len(cases))
	for i := range order {
		order[i] = i
	}
	for r := 0; r < warmup+n; r++ {
		if shuffle {
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		for _, i := range order {
			c := cases[i]
			load := Load1()
			t0 := time.Now()
			if err := c.Run(); err != nil {
				return nil, fmt.Errorf("%s: %w", c.Name, err)
			}
			if r >= warmup {
				out[i].Samples = append(out[i].Samples, time.Since(t0))
				out[i].Loads = append(out[i].Loads, load)
			}
		}
	}
	return out, nil
}

// Machine describes the host for the report.
func Machine() string {
	var u unix.Utsname
	_ = unix.Uname(&u)
	return fmt.Sprintf("%d cpus, kernel %s", runtime.NumCPU(), strings.TrimRight(string(u.Release[:]), "\x00"))
}

// Report prints a table: each series with median, min, max and its ratio
// to the first (baseline) series.
func Report(w io.Writer, title string, s []Series) {
	base := s[0].Median()
	table(w, title, len(s[0].Samples), func(tw io.Writer) {
		for _, x := range s {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2fx\t%s\t\n", x.Name, round(x.Median()), round(x.Min()), round(x.Max()), Ratio(x.Median(), base), x.Load())
		}
	})
}

// table prints the title line and the table Report and ReportValues
// share; rows writes one tab-separated row per series.
func table(w io.Writer, title string, n int, rows func(tw io.Writer)) {
	fmt.Fprintf(w, "%s (%s, n=%d each, interleaved)\n", title, Machine(), n)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\tmedian\tmin\tmax\tratio\tload1\t")
	rows(tw)
	tw.Flush()
}

// Ratio is a/b as a float.
func Ratio(a, b time.Duration) float64 { return ratio(float64(a), float64(b)) }

// ratio is a/b, 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func round(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Microsecond)
}

// Values is a series of measured quantities where more is better (runs
// per second, CPU time received), with the load read before each.
type Values struct {
	Name   string
	Unit   string
	Values []float64
	Loads  []float64
}

// Add records one value and the load average read before it was measured.
func (v *Values) Add(x, load float64) {
	v.Values = append(v.Values, x)
	v.Loads = append(v.Loads, load)
}

func (v Values) stat(q float64) float64 { return pct(v.Values, q) }

// Median of the values.
func (v Values) Median() float64 { return v.stat(0.5) }

// ReportValues prints a table like Report for quantities where more is
// better: median, min, max, the ratio of medians to the first (baseline)
// series, and the median load average.
func ReportValues(w io.Writer, title string, vs []Values) {
	base := vs[0].Median()
	table(w, title, len(vs[0].Values), func(tw io.Writer) {
		for _, v := range vs {
			fmt.Fprintf(tw, "%s\t%.1f %s\t%.1f\t%.1f\t%.2fx\t%s\t\n", v.Name, v.Median(), v.Unit, v.stat(0), v.stat(1), ratio(v.Median(), base), Series{Loads: v.Loads}.Load())
		}
	})
}
