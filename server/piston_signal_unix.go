//go:build unix

package server

import (
	"os"

	"golang.org/x/sys/unix"
)

// pistonSignal maps a signal name as Piston's connect takes it
// ("SIGINT"; its list is every signal of the platform) to the signal.
func pistonSignal(name string) (os.Signal, bool) {
	n := unix.SignalNum(name)
	if n == 0 {
		return nil, false
	}
	return n, true
}
