package uidslot

import (
	"strings"
	"testing"
)

func TestSlots(t *testing.T) {
	p, err := New(t.TempDir(), 5000, 3)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint32]func(){}
	for range 3 {
		uid, release, err := p.Acquire()
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := seen[uid]; dup || !p.Contains(uid) {
			t.Fatalf("uid %d: duplicate or outside 5000-5002", uid)
		}
		seen[uid] = release
	}
	// A second pool on the same directory is another supervisor: it sees
	// the slots held.
	q, _ := New(p.dir, 5000, 3)
	if _, _, err := q.Acquire(); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("a full range: %v", err)
	}
	if _, ok, _ := q.Hold(5001); ok {
		t.Fatal("held a slot that is in use")
	}
	seen[5001]()
	release, ok, err := q.Hold(5001)
	if err != nil || !ok {
		t.Fatalf("a released slot: %v %v", ok, err)
	}
	release()
	if _, ok, _ := q.Hold(4999); ok {
		t.Fatal("held a uid outside the range")
	}
	if _, err := New(t.TempDir(), 1, 0); err == nil {
		t.Fatal("an empty range was accepted")
	}
}

// A slot remembers whether its last holder released it clean; one whose
// holder died (or did not say) is not.
func TestSlotCleanMark(t *testing.T) {
	p, err := New(t.TempDir(), 7000, 4)
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.AcquireSlot()
	if err != nil || s.UID != 7000 || s.Clean {
		t.Fatalf("first slot: %+v %v", s, err)
	}
	s.Release(true)
	s, _ = p.AcquireSlot()
	if s.UID != 7000 || !s.Clean {
		t.Fatalf("a slot released clean: %+v", s)
	}
	s.Release(false) // as a holder that died: the lock goes, the mark stays unclean
	s, _ = p.AcquireSlot()
	if s.Clean {
		t.Fatal("a slot released unclean came back clean")
	}
	t2, _ := p.AcquireSlot()
	if t2.UID != 7001 {
		t.Fatalf("the lowest free slot is 7001, got %d", t2.UID)
	}
	s.Release(true)
	t2.Release(true)
}
