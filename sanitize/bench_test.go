package sanitize_test

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sandrun/sandrun/sanitize"
)

// benchText is about 1 MiB of program-like output (see corpus) with a
// secret every 50 lines.
func benchText(every int) string {
	text, _ := corpus(9000, every)
	return text
}

func benchSanitize(b *testing.B, text string) {
	s := newSan(b, sanitize.Options{})
	s.Sanitize("stdout", text) // compile the rules this text needs
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		s.Sanitize("stdout", text)
	}
	report(b, len(text), cpuTime()-cpu0)
}

// report adds ms/MiB of wall time and of CPU time. The machine this was
// measured on is shared: wall time includes waiting for a core, CPU time
// (getrusage, the whole process, GC included) does not.
func report(b *testing.B, n int, cpu time.Duration) {
	mib := float64(n) / (1 << 20) * float64(b.N)
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/mib, "ms/MiB")
	b.ReportMetric(float64(cpu.Microseconds())/1000/mib, "cpu-ms/MiB")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSanitize is the figure the 5 ms/MiB target is about: all
// rules on, realistic output.
func BenchmarkSanitize(b *testing.B) { benchSanitize(b, benchText(50)) }

// BenchmarkSanitizeDense plants a secret on every line.
func BenchmarkSanitizeDense(b *testing.B) { benchSanitize(b, benchText(1)) }

// BenchmarkSanitizeClean has no secrets and no keywords at all: the
// automaton pass alone.
func BenchmarkSanitizeClean(b *testing.B) {
	benchSanitize(b, strings.Repeat("0123456789 lorem ipsum dolor sit amet\n", 28000))
}

func BenchmarkStream(b *testing.B) {
	s := newSan(b, sanitize.Options{})
	text := benchText(50)
	s.Sanitize("stdout", text) // compile the rules this text needs
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		st := s.NewStream(func(string, string) {})
		for t := text; len(t) > 0; {
			n := min(4096, len(t))
			st.Write("stdout", []byte(t[:n]))
			t = t[n:]
		}
		st.Close()
	}
	report(b, len(text), cpuTime()-cpu0)
}

// BenchmarkSanitizeAdversarial is output built to be slow to scan: every
// four bytes a keyword that passes the gates of the most expensive rule.
// The work budget bounds it (the tail is redacted unscanned).
func BenchmarkSanitizeAdversarial(b *testing.B) {
	benchSanitize(b, strings.Repeat("key=", (1<<20)/4))
}

// BenchmarkNewSmall is a one-shot CLI's whole use of the sanitizer: build
// it, then scrub a short output and an empty one. Every `sandrun run`
// process pays it once, on its critical path.
func BenchmarkNewSmall(b *testing.B) {
	cpu0 := cpuTime()
	for b.Loop() {
		s, err := sanitize.New(sanitize.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if out, _ := s.Sanitize("stdout", "1\n"); out != "1\n" {
			b.Fatal(out)
		}
		s.Sanitize("stderr", "")
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
}
