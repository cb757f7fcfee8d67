package main

import (
	"runtime"

	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/lang"
)

// warmPlan is how many runs the warm path serves: fork is the jail's
// child slots per zygote (jail.Options.Warm), pool the one-use
// interpreters kept started per language.
type warmPlan struct {
	fork int
	pool map[string]int
}

// hostWarm sizes the warm path from the host (cfg.warm), or only takes
// the explicit --pool sizes. Which languages fork and which are
// prestarted is the language registry's data (lang.Warm).
func hostWarm(langs *lang.Registry, cfg config) warmPlan {
	p := warmPlan{pool: map[string]int{}}
	if cfg.warm {
		p = sizeWarm(langs, runtime.NumCPU(), hostMemory())
	}
	for k, v := range cfg.pool {
		p.pool[k] = v // an explicit --pool size wins
	}
	for k, v := range p.pool {
		if v == 0 {
			delete(p.pool, k)
		}
	}
	return p
}

// sizeWarm: a zygote's children share its pages, so a slot costs little
// until its run allocates; slots are a bound on concurrent warm runs
// (runs past it start cold, never fail), 4 per CPU, at least 8, at most
// 256 and one per 64 MiB of memory. A prestarted interpreter holds its
// whole runtime (node: ~40 MiB): one per CPU, at most 8 and one per
// 512 MiB.
func sizeWarm(langs *lang.Registry, cpus int, mem int64) warmPlan {
	mib := int(mem >> 20)
	if mib == 0 {
		mib = 1 << 30 // unknown: no bound from memory
	}
	p := warmPlan{
		fork: min(max(4*cpus, 8), 256, max(mib/64, 1), jail.MaxWarm),
		pool: map[string]int{},
	}
	for _, name := range langs.WithWarm(lang.WarmPrestart) {
		p.pool[name] = min(max(cpus, 1), 8, max(mib/512, 1))
	}
	return p
}
