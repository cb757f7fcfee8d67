package kubernetes

// Runs reports how many runs got a warm pod and how many a cold one.
func (b *Backend) Runs() (warm, cold int64) { return b.warmRuns.Load(), b.coldRuns.Load() }

// ReadyWarm is the number of ready warm pods of language.
func (b *Backend) ReadyWarm(language string) int {
	b.initMu.Lock()
	st := b.st
	b.initMu.Unlock()
	if st == nil {
		return 0
	}
	return st.pool.readyCount(language)
}
