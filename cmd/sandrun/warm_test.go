package main

import (
	"testing"

	"github.com/sandrun/sandrun/lang"
)

// TestSizeWarm: the warm path's size follows the host, and which
// languages fork or are prestarted comes from the language registry.
func TestSizeWarm(t *testing.T) {
	langs := lang.NewRegistry(lang.Options{})
	for _, c := range []struct {
		cpus     int
		mem      int64
		fork     int
		prestart int
	}{
		{2, 24 << 30, 8, 2},
		{16, 64 << 30, 64, 8},
		{128, 1 << 40, 256, 8},
		{8, 256 << 20, 4, 1}, // a small container: memory bounds both
		{4, 0, 16, 4},        // memory unknown: CPUs alone
	} {
		p := sizeWarm(langs, c.cpus, c.mem)
		if p.fork != c.fork {
			t.Errorf("%d cpus, %d MiB: %d fork slots, want %d", c.cpus, c.mem>>20, p.fork, c.fork)
		}
		for _, name := range langs.WithWarm(lang.WarmPrestart) {
			if p.pool[name] != c.prestart {
				t.Errorf("%d cpus, %d MiB: pool %s = %d, want %d", c.cpus, c.mem>>20, name, p.pool[name], c.prestart)
			}
		}
		for _, name := range langs.WithWarm(lang.WarmFork) {
			if _, ok := p.pool[name]; ok {
				t.Errorf("%s forks in the jail: it must not also be pooled", name)
			}
		}
	}
	if n := len(langs.WithWarm(lang.WarmPrestart)) + len(langs.WithWarm(lang.WarmFork)); n == 0 {
		t.Fatal("no language has a warm path")
	}
	// An explicit --pool size wins; 0 turns a language's pool off.
	p := hostWarm(langs, config{warm: true, pool: map[string]int{"javascript": 0, "python": 3}})
	if _, ok := p.pool["javascript"]; ok || p.pool["python"] != 3 {
		t.Errorf("explicit sizes: %+v", p.pool)
	}
	if p := hostWarm(langs, config{}); p.fork != 0 || len(p.pool) != 0 {
		t.Errorf("warm off: %+v", p)
	}
}
