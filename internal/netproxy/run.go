package netproxy

import (
	"sync"

	"github.com/sandrun/sandrun"
)

// Running is one run's proxy serving in the run's network namespace.
type Running struct {
	p     *Proxy
	done  chan error
	once  sync.Once
	usage *sandrun.NetworkUsage
}

// Start opens the proxy's listener at Addr inside the namespace at nsPath
// and serves it until Stop. The backend calls it before the program
// starts, so the program never finds the port closed.
func Start(nsPath string, cfg Config) (*Running, error) {
	l, err := ListenIn(nsPath, Addr)
	if err != nil {
		return nil, err
	}
	r := &Running{p: New(cfg), done: make(chan error, 1)}
	go func() { r.done <- r.p.Serve(l) }()
	return r, nil
}

// Usage is the record so far, while the proxy serves (after Stop: the
// final one).
func (r *Running) Usage() *sandrun.NetworkUsage {
	return r.p.Usage()
}

// Stop closes the proxy (every connection ends) and returns its record.
// It may be called more than once.
func (r *Running) Stop() *sandrun.NetworkUsage {
	r.once.Do(func() {
		r.p.Close()
		<-r.done
		r.usage = r.p.Usage()
	})
	return r.usage
}
