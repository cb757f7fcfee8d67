//go:build !linux

package netproxy

import (
	"errors"
	"net"
)

// ListenIn needs Linux network namespaces.
func ListenIn(nsPath, addr string) (net.Listener, error) {
	return nil, errors.New("a listener inside a run's network namespace needs Linux")
}
