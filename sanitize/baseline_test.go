package sanitize_test

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zricethezav/gitleaks/v8/detect"

	"github.com/sandrun/sandrun/sanitize"
)

// BenchmarkGitleaksDetector is the baseline: gitleaks' own detector
// (the library the rules come from) on the same text, in the same run.
// Its figure against BenchmarkSanitize is the ratio the README reports.
func BenchmarkGitleaksDetector(b *testing.B) {
	d, err := detect.NewDetectorDefaultConfig()
	if err != nil {
		b.Fatal(err)
	}
	text := benchText(50)
	d.DetectString(text)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		d.DetectString(text)
	}
	report(b, len(text), cpuTime()-cpu0)
}

// BenchmarkBaselineToLower is a floor for this machine: one lowercased
// copy of the text, the first step of gitleaks' detector.
func BenchmarkBaselineToLower(b *testing.B) {
	text := benchText(50)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		_ = strings.ToLower(text)
	}
	report(b, len(text), cpuTime()-cpu0)
}

// BenchmarkSanitizeVsFloor interleaves the sanitizer and the ToLower
// floor on the same text, one after the other in every iteration, and
// reports the medians (wall time, ms/MiB) and their ratio: on a shared
// machine the ratio holds when the absolute figures drift.
func BenchmarkSanitizeVsFloor(b *testing.B) {
	s := newSan(b, sanitize.Options{})
	text := benchText(50)
	s.Sanitize("stdout", text)
	mib := float64(len(text)) / (1 << 20)
	var san, low, sanCPU, lowCPU []float64
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / mib }
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c0, t0 := cpuTime(), time.Now()
		s.Sanitize("stdout", text)
		c1, t1 := cpuTime(), time.Now()
		_ = strings.ToLower(text)
		c2, t2 := cpuTime(), time.Now()
		san, low = append(san, per(t1.Sub(t0))), append(low, per(t2.Sub(t1)))
		sanCPU, lowCPU = append(sanCPU, per(c1-c0)), append(lowCPU, per(c2-c1))
	}
	b.ReportMetric(median(san), "sanitize-ms/MiB")
	b.ReportMetric(median(low), "tolower-ms/MiB")
	b.ReportMetric(median(sanCPU), "sanitize-cpu-ms/MiB")
	b.ReportMetric(median(lowCPU), "tolower-cpu-ms/MiB")
	if m := median(low); m > 0 {
		b.ReportMetric(median(san)/m, "ratio")
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
