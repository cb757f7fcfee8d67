//go:build !unix

package server

import "os"

// pistonSignal: no signals to send on this OS.
func pistonSignal(string) (os.Signal, bool) { return nil, false }
