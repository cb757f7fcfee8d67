package main

import (
	"context"

	"github.com/sandrun/sandrun/internal/netproxy/proxybench"
)

// benchProxy measures the network proxy's added latency per request:
// direct against proxied (plain HTTP, and HTTPS through CONNECT),
// interleaved, medians with the load average (internal/netproxy/proxybench).
func benchProxy(_ context.Context, env *cliEnv, _ *app, n int) error {
	s, err := proxybench.Run(n, 5)
	if err != nil {
		return err
	}
	proxybench.Report(env.stdout, s)
	return nil
}
