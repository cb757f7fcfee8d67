// Package uidslot hands out host uids from a range, one per concurrent
// run, across every supervisor process on the host. Slot n (uid base+n) is
// held by an flock on <dir>/<n>; the kernel drops the lock when its holder
// dies, so a crash leaves nothing to sweep here. Whatever the dead run's
// uid left elsewhere (files, processes) is the caller's to clean before it
// reuses the uid: Free says which uids nobody holds now.
package uidslot

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Pool is a range of count uids starting at base, with its locks in dir.
type Pool struct {
	dir   string
	base  uint32
	count uint32
}

// New makes dir (0700) and returns the pool.
func New(dir string, base, count uint32) (*Pool, error) {
	if count == 0 {
		return nil, fmt.Errorf("uid slots: empty range at %d", base)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &Pool{dir: dir, base: base, count: count}, nil
}

// Contains reports whether uid is in the pool's range.
func (p *Pool) Contains(uid uint32) bool { return uid >= p.base && uid-p.base < p.count }

// Acquire takes a free slot, starting at a random one, and returns its
// uid and a release.
func (p *Pool) Acquire() (uint32, func(), error) {
	var r [4]byte
	_, _ = rand.Read(r[:])
	s, err := p.acquire(binary.BigEndian.Uint32(r[:]) % p.count)
	if err != nil {
		return 0, nil, err
	}
	return s.UID, func() { s.Release(false) }, nil
}

// Slot is a held uid. Its lock file remembers whether the last holder
// released it clean (having removed what the uid left on the host), so
// that the next holder can skip that cleanup; a holder that dies leaves
// it unclean.
type Slot struct {
	UID uint32
	// Clean: the previous holder released it clean.
	Clean bool
	fd    int
}

// AcquireSlot takes the lowest free slot: the same few slots serve run
// after run, released clean, so their next holder skips the cleanup.
func (p *Pool) AcquireSlot() (*Slot, error) { return p.acquire(0) }

func (p *Pool) acquire(start uint32) (*Slot, error) {
	for i := uint32(0); i < p.count; i++ {
		n := (start + i) % p.count
		fd, ok, err := p.lock(n)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		var b [1]byte
		s := &Slot{UID: p.base + n, fd: fd}
		if k, _ := unix.Pread(fd, b[:], 0); k == 1 && b[0] == 'c' {
			s.Clean = true
		}
		// Unclean until its holder says otherwise.
		_, _ = unix.Pwrite(fd, []byte{'d'}, 0)
		return s, nil
	}
	return nil, fmt.Errorf("all %d uids from %d are in use", p.count, p.base)
}

// Release gives the slot back; clean says the holder removed what the
// uid left on the host.
func (s *Slot) Release(clean bool) {
	if clean {
		_, _ = unix.Pwrite(s.fd, []byte{'c'}, 0)
	}
	unix.Close(s.fd)
}

// Hold takes the slot of uid if nobody holds it: ok is false when it is
// in use (or outside the range). A sweep holds a slot while it cleans
// what a dead run left under its uid, so no new run gets the uid
// meanwhile.
func (p *Pool) Hold(uid uint32) (release func(), ok bool, err error) {
	if !p.Contains(uid) {
		return nil, false, nil
	}
	return p.try(uid - p.base)
}

func (p *Pool) try(n uint32) (func(), bool, error) {
	fd, ok, err := p.lock(n)
	if !ok {
		return nil, false, err
	}
	return func() { unix.Close(fd) }, true, nil
}

// lock takes slot n's lock file: ok is false when another holds it.
func (p *Pool) lock(n uint32) (int, bool, error) {
	path := filepath.Join(p.dir, strconv.FormatUint(uint64(n), 10))
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return -1, false, fmt.Errorf("uid slot: %w", err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		unix.Close(fd)
		return -1, false, nil
	}
	return fd, true, nil
}
