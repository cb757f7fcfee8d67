//go:build linux

package jail_test

import (
	"context"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/testenv"
)

// TestSetLimitsMovesWallClock: SetLimits just before the old wall-clock
// limit gives the process the new one; the old deadline, already armed,
// must not end it (a pooled run was killed as a timeout seconds into its
// own limit, which then read "of 12s").
func TestSetLimitsMovesWallClock(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: several launches")
	}
	b := backend(t)
	// The first limit, and the margins around it, are scaled to the host's
	// load: SetLimits must come before the first limit ends, however slow
	// the host (a fixed 60 ms margin failed under -race).
	w0 := testenv.Scale(t, 500*time.Millisecond)
	for i := 0; i < 6; i++ {
		j, err := b.Launch(context.Background(), &sandrun.LaunchSpec{Language: "python", Args: []string{"-c", "import time; time.sleep(30)"},
			Limits: sandrun.Limits{WallTime: sandrun.Duration(w0)}.WithDefaults()})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(w0 / 2)
		if err := j.SetLimits(sandrun.Limits{WallTime: sandrun.Duration(10 * w0)}.WithDefaults()); err != nil {
			t.Fatal(err)
		}
		done := make(chan *sandrun.LaunchExit, 1)
		go func() { ex, _ := j.Wait(); done <- ex }()
		select {
		case ex := <-done:
			t.Fatalf("launch %d ended within %v after SetLimits moved its wall clock: %+v", i, w0+time.Second, ex)
		case <-time.After(w0 + time.Second):
		}
		_ = j.Kill()
		<-done
	}
}
