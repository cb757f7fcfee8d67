package sanitize

import (
	glconfig "github.com/zricethezav/gitleaks/v8/config"
	"fmt"
	"testing"
	"time"
)

func TestDbgAllow(t *testing.T) {
	s, _ := New(Options{})
	secret := "ghp_aB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5"
	line := "2026-11-26T20:01:01Z INFO handled request path=/api/v1/items/1 status=200 duration=12ms secret=" + secret + "\n"
	for _, a := range s.globalAllow {
		t0 := time.Now()
		for i := 0; i < 1000; i++ {
			a.RegexAllowed(secret)
		}
		fmt.Println("global", len(a.Regexes), time.Since(t0)/1000)
	}
	for _, r := range s.rules {
		if r.id != "generic-api-key" && r.id != "github-pat" {
			continue
		}
		r.compile()
		for _, a := range r.allow {
			t0 := time.Now()
			for i := 0; i < 1000; i++ {
				allowed([]*glconfig.Allowlist{a}, secret, "secret="+secret, line, "")
			}
			fmt.Println(r.id, a.RegexTarget, len(a.Regexes), len(a.StopWords), time.Since(t0)/1000)
		}
	}
}
