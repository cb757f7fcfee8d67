// Package benchkit measures candidates against a baseline in the same run,
// interleaved (A B A B ...), and reports medians, min, max and the ratio of
// medians. Absolute times on these shared machines mean little; ratios
// measured side by side do.
package benchkit

import (
	"fmt"
	"io"
	"runtime"
	"slices"
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

// Series is the timings of one case.
type Series struct {
	Name    string
	Samples []time.Duration
}

// Median, Min and Max of the samples.
func (s Series) Median() time.Duration { return pct(s.Samples, 0.5) }
func (s Series) Min() time.Duration    { return pct(s.Samples, 0) }
func (s Series) Max() time.Duration    { return pct(s.Samples, 1) }

// P returns the q-quantile (0..1) of the samples.
func (s Series) P(q float64) time.Duration { return pct(s.Samples, q) }

func pct(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	c := slices.Clone(d)
	slices.Sort(c)
	i := int(q * float64(len(c)-1))
	return c[i]
}

// Interleave runs warmup untimed rounds, then n rounds of every case in
// turn. The first case is the baseline.
func Interleave(n, warmup int, cases ...Case) ([]Series, error) {
	out := make([]Series, len(cases))
	for i, c := range cases {
		out[i].Name = c.Name
	}
	for r := 0; r < warmup+n; r++ {
		for i, c := range cases {
			t0 := time.Now()
			if err := c.Run(); err != nil {
				return nil, fmt.Errorf("%s: %w", c.Name, err)
			}
			if r >= warmup {
				out[i].Samples = append(out[i].Samples, time.Since(t0))
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
	fmt.Fprintf(w, "%s (%s, n=%d each, interleaved)\n", title, Machine(), len(s[0].Samples))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\tmedian\tmin\tmax\tratio\t")
	base := s[0].Median()
	for _, x := range s {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2fx\t\n", x.Name, round(x.Median()), round(x.Min()), round(x.Max()), Ratio(x.Median(), base))
	}
	tw.Flush()
}

// Ratio is a/b as a float.
func Ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func round(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Microsecond)
}
