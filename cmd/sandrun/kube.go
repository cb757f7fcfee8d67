package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sandrun/sandrun/internal/seccompprofile"
)

// cmdKube holds the kubernetes tier's node-side helper: the seccomp
// profile its pods use (Localhost "sandrun/run.json" by default), which
// every node must have under the kubelet's seccomp directory. The profile
// is resolved for the kernel and architecture of the machine that prints
// it, so the node-setup DaemonSet (deploy/) runs this on each node.
func cmdKube(ctx context.Context, env *cliEnv, args []string) error {
	const usage = "usage: sandrun kube seccomp-profile [--install DIR [--keep]]"
	if len(args) == 0 || args[0] != "seccomp-profile" {
		return &usageError{msg: usage}
	}
	fs := flag.NewFlagSet("kube seccomp-profile", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	install := fs.String("install", "", "write DIR/sandrun/run.json (DIR: the kubelet's seccomp directory, /var/lib/kubelet/seccomp) instead of printing it")
	keep := fs.Bool("keep", false, "with --install: stay running and rewrite the file if it changes (a DaemonSet's container)")
	if err := fs.Parse(args[1:]); err != nil {
		return &usageError{msg: err.Error(), err: err}
	}
	if fs.NArg() > 0 {
		return &usageError{msg: usage}
	}
	js, err := seccompprofile.JSON(seccompprofile.Options{NativeOnly: true})
	if err != nil {
		return fmt.Errorf("building the seccomp profile: %w", err)
	}
	if *install == "" {
		fmt.Fprintln(env.stdout, js)
		return nil
	}
	path := filepath.Join(*install, "sandrun", "run.json")
	write := func() error {
		if b, err := os.ReadFile(path); err == nil && string(b) == js {
			return nil
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(js), 0o644); err != nil {
			return err
		}
		return os.Rename(tmp, path)
	}
	if err := write(); err != nil {
		return fmt.Errorf("installing the seccomp profile: %w", err)
	}
	fmt.Fprintln(env.stderr, "installed", path)
	for *keep {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Minute):
		}
		if err := write(); err != nil {
			fmt.Fprintln(env.stderr, "sandrun kube:", err)
		}
	}
	return nil
}
