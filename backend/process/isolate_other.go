//go:build !linux

package process

import (
	"time"

	"github.com/sandrun/sandrun"
)

// The tier fails closed off Linux (platformCheck); these keep it
// compiling.
const (
	DefaultUIDBase  = 1_799_000_000
	DefaultUIDCount = 65536
)

type isolation struct{ root bool }

type identity struct{ warn string }

func newIsolation(Options) (*isolation, error) { return nil, errUnsupported }

func (is *isolation) sweep() {}
func (is *isolation) close() {}

func (is *isolation) acquire(sandrun.Limits, []string) (*identity, error) {
	return nil, errUnsupported
}

func (id *identity) chown(string) error { return errUnsupported }
func (id *identity) kill()              {}
func (id *identity) groupStats() (time.Duration, int64, bool, bool) {
	return 0, 0, false, false
}
func (id *identity) release() {}
