package verdict

import (
	"sync"
	"testing"
)

func TestKillRecordFirstWins(t *testing.T) {
	var r KillRecord
	if k, d := r.Get(); k != KillNone || d != "" {
		t.Fatalf("zero record = %v %q, want none", k, d)
	}
	if r.Set(KillNone, "x") {
		t.Fatal("Set(KillNone) counted as a kill")
	}
	if !r.Set(KillOutput, "stderr") {
		t.Fatal("the first Set was not first")
	}
	if r.Set(KillTimeout, "") {
		t.Fatal("a second Set was first")
	}
	var f Facts
	r.Fill(&f)
	if f.Killed != KillOutput || f.Stream != "stderr" || f.Network != "" {
		t.Fatalf("Fill = %v %q %q, want output stderr", f.Killed, f.Stream, f.Network)
	}
	var n KillRecord
	n.Set(KillNetwork, "bytes up")
	f = Facts{}
	n.Fill(&f)
	if f.Killed != KillNetwork || f.Network != "bytes up" || f.Stream != "" {
		t.Fatalf("Fill = %v %q %q, want network \"bytes up\"", f.Killed, f.Stream, f.Network)
	}
}

func TestKillRecordOneFirstAmongMany(t *testing.T) {
	var r KillRecord
	var wg sync.WaitGroup
	var mu sync.Mutex
	firsts := 0
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r.Set(Kill(1+i%6), "") {
				mu.Lock()
				firsts++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firsts != 1 {
		t.Fatalf("%d Sets were first, want 1", firsts)
	}
}
