package pool

import (
	"maps"

	"github.com/sandrun/sandrun"
)

// Why a run of a pooled language did not get a warm interpreter
// (sandrun.WarmStatus.Cold): it then ran on the fallback (or a cold
// launch of the pool's own).
const (
	missNoneReady = "none_ready" // every interpreter taken, or the pool still filling
	missLimits    = "limits"     // limits past the ceiling the interpreters were launched with
	missMemory    = "memory"     // program mode: another memory limit than the ceiling's (the heap is sized at the start)
	missCollect   = "collect"    // program mode: files to collect
	missEnv       = "env"        // program mode: variables the interpreter reads at its start
	missNetwork   = "network"    // a network allowlist: no warm interpreter has the run's proxy
)

// record counts a run of lang: warm (why "") or not, and why.
func (p *Pool) record(lang, why string) {
	if why == "" {
		p.hits.Add(1)
	} else {
		p.misses.Add(1)
	}
	p.statMu.Lock()
	defer p.statMu.Unlock()
	if p.cold[lang] == nil {
		p.cold[lang] = map[string]int64{}
	}
	if why == "" {
		p.warm[lang]++
	} else {
		p.cold[lang][why]++
	}
}

// WarmStatus implements sandrun.WarmReporter: per pooled language, the
// interpreters waiting and what became of its runs.
func (p *Pool) WarmStatus() map[string]sandrun.WarmStatus {
	out := map[string]sandrun.WarmStatus{}
	p.statMu.Lock()
	defer p.statMu.Unlock()
	for lang, ch := range p.ready {
		s := sandrun.WarmStatus{Kind: sandrun.WarmPrestarted, Tier: p.cfg.Tier, Ready: len(ch), Warm: p.warm[lang], Cold: maps.Clone(p.cold[lang])}
		if s.Cold == nil {
			s.Cold = map[string]int64{}
		}
		if s.Ready == 0 {
			p.errMu.Lock()
			if err := p.lastErr[lang]; err != nil {
				s.Error = err.Error()
			}
			p.errMu.Unlock()
		}
		out[lang] = s
	}
	return out
}
