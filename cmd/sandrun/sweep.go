package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/sandrun/sandrun/audit"
)

// The container tiers (docker, gvisor) leave something behind only when
// the process that used them dies without its Close: a supervisor killed
// mid-run (issue 12 item 5). Sweeping them costs a dockerd round trip for
// its containers and its info and a read of runsc's state: about a
// millisecond of this process's CPU and more of dockerd's, which a
// one-shot `sandrun run` on the jail paid on every call for leftovers that
// only a crash makes.
//
// So every command that builds the app holds a lease while it lives: an
// empty file named by its pid and start time (audit.WriterID) in the state
// directory, removed at Close, after its own containers. A process that
// dies leaves its lease. A one-shot run sweeps the container tiers only
// when it finds a lease whose process is gone, or cannot tell (no lease
// directory yet, an unusable one, no start times off Linux); long-lived
// commands sweep at every start, as before. Stale leases are removed once
// a sweep reached the engine, so a sweep that could not is retried by the
// next command.

// leaseDir is where the leases live. As root, one directory for the host
// (/run: gone at a reboot, when the first command finds no directory and
// sweeps): every root supervisor's crash is noticed, whatever its state
// directory (a bench's private one). Otherwise beside the audit log in
// the user's state directory.
func leaseDir(getenv func(string) string) (string, error) {
	if os.Geteuid() == 0 {
		return "/run/sandrun-leases", nil
	}
	db, err := audit.DefaultSQLitePath(getenv)
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(db), "leases"), nil
}

// takeLease makes this process's lease in dir and lists the leases of
// processes that are gone. known is false when the caller cannot rely on
// the leases (dir did not exist before: crashes before it are unknown; it
// could not be used; no start time): it then sweeps.
func takeLease(dir string) (release func(), stale []string, known bool) {
	release = func() {}
	ents, err := os.ReadDir(dir)
	known = err == nil
	if err != nil {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return release, nil, false
		}
	}
	for _, e := range ents {
		if !audit.WriterAlive(e.Name()) {
			stale = append(stale, filepath.Join(dir, e.Name()))
		}
	}
	self := audit.WriterID()
	if strings.HasSuffix(self, ":") {
		return release, stale, false // no start time here: cannot tell
	}
	path := filepath.Join(dir, self)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return release, stale, false
	}
	f.Close()
	return func() { _ = os.Remove(path) }, stale, known
}
