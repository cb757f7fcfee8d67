//go:build linux

// Command pause is the pod sandbox's placeholder process for the test
// cluster (scripts/kubernetes): it holds the pod's namespaces open, reaps
// any child it inherits, and exits on SIGINT or SIGTERM. The cluster
// cannot pull registry.k8s.io/pause, so images.sh builds this static
// binary into a one-file image instead.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sig {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
