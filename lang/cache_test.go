//go:build unix

package lang

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeSpec is a language whose interpreter is a script in a temp PATH
// directory that prints its version as JSON: probing it really execs it.
func fakeSpec() Spec {
	return Spec{
		Name: "fake", Candidates: []string{"fakelang"}, FileName: "main.fake",
		Facts: jsonFacts(),
		Build: func(exe string, f map[string]string) (*Language, error) {
			return &Language{Version: f["version"], Interpreter: exe, Argv: []string{exe, "{file}"}}, nil
		},
	}
}

func writeFake(t *testing.T, dir, body string) {
	t.Helper()
	p := filepath.Join(dir, "fakelang")
	tmp := p + ".new"
	if err := os.WriteFile(tmp, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil { // a new inode, as an upgrade
		t.Fatal(err)
	}
}

func lookupFake(t *testing.T, r *Registry) (*Language, *entry) {
	t.Helper()
	l, err := r.Lookup(context.Background(), "fake")
	if err != nil {
		t.Fatal(err)
	}
	return l, r.entry("fake")
}

func TestCacheHitAndInvalidation(t *testing.T) {
	bin, cache := t.TempDir(), t.TempDir()
	writeFake(t, bin, `echo '{"version":"1.0"}'`)
	opts := Options{SearchPath: bin, CacheDir: cache, Extra: []Spec{fakeSpec()}}

	r1 := NewRegistry(opts)
	l, e := lookupFake(t, r1)
	if l.Version != "1.0" || e.probed != 1 || e.diskHits != 0 {
		t.Fatalf("first lookup: %+v, probed %d, disk hits %d", l, e.probed, e.diskHits)
	}
	if _, e = lookupFake(t, r1); e.probed != 1 {
		t.Fatalf("second lookup in one registry probed again (%d probes)", e.probed)
	}
	// Another process (registry): the disk cache answers, no probe.
	r2 := NewRegistry(opts)
	l, e = lookupFake(t, r2)
	if l.Version != "1.0" || e.probed != 0 || e.diskHits != 1 {
		t.Fatalf("second registry: %+v, probed %d, disk hits %d", l, e.probed, e.diskHits)
	}
	// The interpreter changes (an upgrade: a new file): both the
	// in-memory and the disk answer are stale, and the next lookup sees it.
	writeFake(t, bin, `echo '{"version":"2.0"}'`)
	l, e = lookupFake(t, r2)
	if l.Version != "2.0" || e.probed != 1 {
		t.Fatalf("after the upgrade: %+v, probed %d", l, e.probed)
	}
	l, e = lookupFake(t, NewRegistry(opts))
	if l.Version != "2.0" || e.probed != 0 || e.diskHits != 1 {
		t.Fatalf("a new registry after the upgrade: %+v, probed %d, disk hits %d", l, e.probed, e.diskHits)
	}
	// A new interpreter earlier on PATH wins at once.
	bin2 := t.TempDir()
	writeFake(t, bin2, `echo '{"version":"3.0"}'`)
	opts.SearchPath = bin2 + ":" + bin
	l, e = lookupFake(t, NewRegistry(opts))
	if l.Version != "3.0" || e.probed != 1 {
		t.Fatalf("another PATH: %+v, probed %d", l, e.probed)
	}
	// A cache file others may write is not trusted.
	if err := os.Chmod(filepath.Join(cache, cacheFile), 0o666); err != nil {
		t.Fatal(err)
	}
	opts.SearchPath = bin
	if _, e = lookupFake(t, NewRegistry(opts)); e.probed != 1 || e.diskHits != 0 {
		t.Fatalf("a world-writable cache was used: probed %d, disk hits %d", e.probed, e.diskHits)
	}
}

func TestDependsOnInvalidates(t *testing.T) {
	bin, cache := t.TempDir(), t.TempDir()
	dep := filepath.Join(t.TempDir(), "version")
	os.WriteFile(dep, []byte("1\n"), 0o644)
	writeFake(t, bin, `echo '{"version":"1.0"}'`)
	s := fakeSpec()
	s.DependsOn = func(string) []string { return []string{dep} }
	opts := Options{SearchPath: bin, CacheDir: cache, Extra: []Spec{s}}
	lookupFake(t, NewRegistry(opts))
	if _, e := lookupFake(t, NewRegistry(opts)); e.diskHits != 1 {
		t.Fatalf("unchanged dependency: disk hits %d", e.diskHits)
	}
	os.WriteFile(dep, []byte("22\n"), 0o644) // as `pyenv global` rewrites its file
	if _, e := lookupFake(t, NewRegistry(opts)); e.probed != 1 || e.diskHits != 0 {
		t.Fatalf("changed dependency: probed %d, disk hits %d", e.probed, e.diskHits)
	}
}

// A probe that hangs is cut at the probe timeout, reported as a probe
// failure (not as a missing language), never cached, and retried only
// after RetryAfter.
func TestHangingProbe(t *testing.T) {
	bin, cache := t.TempDir(), t.TempDir()
	writeFake(t, bin, `sleep 60; echo '{"version":"1.0"}'`)
	opts := Options{SearchPath: bin, CacheDir: cache, Extra: []Spec{fakeSpec()}, ProbeTimeout: 300 * time.Millisecond, RetryAfter: time.Hour}
	r := NewRegistry(opts)
	t0 := time.Now()
	_, err := r.Lookup(context.Background(), "fake")
	var pe *ProbeError
	if !errors.As(err, &pe) || !pe.TimedOut || !errors.Is(err, ErrProbeFailed) || errors.Is(err, ErrNotInstalled) {
		t.Fatalf("hanging probe: %v", err)
	}
	// A bound against a hang, not a timing: the probe's group is killed.
	if d := time.Since(t0); d > 30*time.Second {
		t.Fatalf("the lookup took %v", d)
	}
	t.Log(err)
	if !strings.Contains(err.Error(), "no answer within 300ms") {
		t.Errorf("the error does not say the probe timed out: %v", err)
	}
	// The failure is kept until RetryAfter: no new probe meanwhile.
	if _, err := r.Lookup(context.Background(), "fake"); !errors.Is(err, ErrProbeFailed) || r.entry("fake").probed != 1 {
		t.Fatalf("within RetryAfter: %v, %d probes", err, r.entry("fake").probed)
	}
	// Never cached: the interpreter fixed, a new registry finds it.
	writeFake(t, bin, `echo '{"version":"1.0"}'`)
	if l, e := lookupFake(t, NewRegistry(opts)); l.Version != "1.0" || e.probed != 1 {
		t.Fatalf("after the fix: %+v, %d probes", l, e.probed)
	}
	// And the registry that failed retries after RetryAfter (or at once
	// when the key changed, as the rewrite here did).
	if l, _ := lookupFake(t, r); l.Version != "1.0" {
		t.Fatalf("the failed registry did not retry: %+v", l)
	}
}

func TestRetryAfterFailure(t *testing.T) {
	bin := t.TempDir()
	writeFake(t, bin, `echo broken; exit 3`)
	opts := Options{SearchPath: bin, NoCache: true, Extra: []Spec{fakeSpec()}, RetryAfter: 50 * time.Millisecond}
	r := NewRegistry(opts)
	for i := 0; i < 2; i++ {
		if _, err := r.Lookup(context.Background(), "fake"); !errors.Is(err, ErrProbeFailed) {
			t.Fatalf("lookup %d: %v", i, err)
		}
	}
	if n := r.entry("fake").probed; n != 1 {
		t.Fatalf("%d probes within RetryAfter", n)
	}
	time.Sleep(60 * time.Millisecond)
	r.Lookup(context.Background(), "fake")
	if n := r.entry("fake").probed; n != 2 {
		t.Fatalf("%d probes after RetryAfter, want 2", n)
	}
}

func TestNotInstalled(t *testing.T) {
	bin := t.TempDir()
	r := NewRegistry(Options{SearchPath: bin, NoCache: true, Extra: []Spec{fakeSpec()}})
	_, err := r.Lookup(context.Background(), "fake")
	if !errors.Is(err, ErrNotInstalled) || errors.Is(err, ErrProbeFailed) {
		t.Fatalf("missing interpreter: %v", err)
	}
	// Installed later: found at the next lookup, nothing to wait for.
	writeFake(t, bin, `echo '{"version":"1.0"}'`)
	if l, _ := lookupFake(t, r); l.Version != "1.0" {
		t.Fatalf("%+v", l)
	}
}

// The disk cache keeps facts, not Languages: a registry whose code builds
// the Language differently (another sandrun version) uses the stored facts
// with its own Build, and a changed probe text is a miss.
func TestCacheKeepsFacts(t *testing.T) {
	bin, cache := t.TempDir(), t.TempDir()
	writeFake(t, bin, `echo '{"version":"1.0"}'`)
	lookupFake(t, NewRegistry(Options{SearchPath: bin, CacheDir: cache, Extra: []Spec{fakeSpec()}}))
	s := fakeSpec()
	s.Build = func(exe string, f map[string]string) (*Language, error) {
		return &Language{Version: f["version"], Interpreter: exe, Argv: []string{exe, "--new-flag", "{file}"}}, nil
	}
	l, e := lookupFake(t, NewRegistry(Options{SearchPath: bin, CacheDir: cache, Extra: []Spec{s}}))
	if e.diskHits != 1 || e.probed != 0 || len(l.Argv) != 3 || l.Argv[1] != "--new-flag" {
		t.Fatalf("new code on old facts: %+v, disk hits %d, probed %d", l, e.diskHits, e.probed)
	}
	s.Facts = jsonFacts("--other-probe")
	if _, e := lookupFake(t, NewRegistry(Options{SearchPath: bin, CacheDir: cache, Extra: []Spec{s}})); e.probed != 1 {
		t.Fatalf("a changed probe used old facts: probed %d", e.probed)
	}
}
