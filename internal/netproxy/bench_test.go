package netproxy_test

import (
	"strings"
	"testing"

	"github.com/sandrun/sandrun/internal/netproxy/proxybench"
)

// BenchmarkProxyAddedLatency is the proxy's cost per request (package
// proxybench; `sandrun bench -only proxy` prints the same table). Run with
//
//	go test -run '^$' -bench ProxyAddedLatency -benchtime 200x ./internal/netproxy/
func BenchmarkProxyAddedLatency(b *testing.B) {
	s, err := proxybench.Run(max(b.N, 20), 5)
	if err != nil {
		b.Fatal(err)
	}
	var sb strings.Builder
	proxybench.Report(&sb, s)
	b.Logf("\n%s", sb.String())
	b.ReportMetric(float64((s[1].Median() - s[0].Median()).Microseconds()), "http-added-us")
	b.ReportMetric(float64((s[3].Median() - s[2].Median()).Microseconds()), "https-added-us")
}
