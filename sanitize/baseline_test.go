package sanitize_test

import (
	"strings"
	"testing"

	"github.com/zricethezav/gitleaks/v8/detect"
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
