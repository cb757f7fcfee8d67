package verdict

import "sync"

// KillRecord keeps the first reason a supervisor killed a program, with
// its detail: the stream that overflowed (KillOutput) or the network cap
// that was hit (KillNetwork). A later reason does not replace it (see
// Kill). It is safe for concurrent use; the zero value holds none.
type KillRecord struct {
	mu     sync.Mutex
	kill   Kill
	detail string
}

// Set records why and detail unless a reason is recorded already, and
// reports whether this one was the first (the caller then kills).
func (r *KillRecord) Set(why Kill, detail string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if why == KillNone || r.kill != KillNone {
		return false
	}
	r.kill, r.detail = why, detail
	return true
}

// Get returns the recorded reason and its detail (KillNone and "": none).
func (r *KillRecord) Get() (Kill, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.kill, r.detail
}

// Fill sets f.Killed to the recorded reason and f.Stream or f.Network to
// its detail.
func (r *KillRecord) Fill(f *Facts) {
	k, d := r.Get()
	f.Killed = k
	switch k {
	case KillOutput:
		f.Stream = d
	case KillNetwork:
		f.Network = d
	}
}
