//go:build linux

package jail_test

import (
	"context"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
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
	for i := 0; i < 6; i++ {
		j, err := b.Launch(context.Background(), &sandrun.LaunchSpec{Language: "python", Args: []string{"-c", "import time; time.sleep(30)"},
			Limits: sandrun.Limits{WallTime: sandrun.Duration(500 * time.Millisecond)}.WithDefaults()})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(440 * time.Millisecond)
		if err := j.SetLimits(sandrun.Limits{WallTime: sandrun.Duration(5 * time.Second)}.WithDefaults()); err != nil {
			t.Fatal(err)
		}
		done := make(chan *sandrun.LaunchExit, 1)
		go func() { ex, _ := j.Wait(); done <- ex }()
		select {
		case ex := <-done:
			t.Fatalf("launch %d ended %v after SetLimits moved its wall clock: %+v", i, time.Second, ex)
		case <-time.After(time.Second):
		}
		_ = j.Kill()
		<-done
	}
}
