package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/sandrun/sandrun/lang"
	"github.com/sandrun/sandrun/server/loadtest"
)

// cmdLoadtest drives a running `sandrun serve` with N runs at concurrency
// C and checks that each run's output is its own.
func cmdLoadtest(ctx context.Context, env *cliEnv, args []string) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	url := fs.String("server", "http://127.0.0.1:8770", "the server's base URL (loopback only)")
	n := fs.Int("n", 1000, "runs")
	c := fs.Int("c", 16, "concurrent runs")
	language := fs.String("lang", lang.Bash, "language of the runs: bash, python or javascript")
	retries := fs.Int("retries", 10, "retries of a run answered 429 (honouring Retry-After)")
	if err := fs.Parse(args); err != nil {
		return &usageError{err: err}
	}
	if !strings.HasPrefix(*url, "http://127.") && !strings.HasPrefix(*url, "http://localhost") && !strings.HasPrefix(*url, "http://[::1]") {
		return &usageError{msg: "--server must be a loopback URL: load is never sent off this machine"}
	}
	rep, err := loadtest.Run(ctx, loadtest.Options{
		URL: strings.TrimSuffix(*url, "/"), Token: os.Getenv("SANDRUN_TOKEN"),
		N: *n, Concurrency: *c, Language: *language, MaxRetries: *retries,
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, rep)
	for _, s := range rep.Samples {
		fmt.Fprintln(env.stdout, "  ", s)
	}
	if !rep.Clean() {
		return &exitError{code: 1}
	}
	return nil
}
