package attacks

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun/internal/testenv"
)

// TestReapOrphans: a zombie reparented to the test process (the
// subreaper) is reaped; a zombie that an exec.Cmd here has not waited for
// yet is left to that Wait.
func TestReapOrphans(t *testing.T) {
	own := exec.Command("true")
	if err := own.Start(); err != nil {
		t.Fatal(err)
	}
	// The orphan: sh starts a sleep and exits; the sleep is reparented to
	// this process and dies as its zombie.
	sh := exec.Command("sh", "-c", "sleep 0.2 & echo $!")
	out, err := sh.Output()
	if err != nil {
		t.Fatal(err)
	}
	orphan, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(testenv.Scale(t, 10*time.Second))
	for !isZombie(orphan) || !isZombie(own.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatalf("no zombies to test with (orphan %d: %v, own %d: %v)", orphan, isZombie(orphan), own.Process.Pid, isZombie(own.Process.Pid))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := reapOrphans(); n < 1 {
		t.Fatalf("reaped %d zombies", n)
	}
	if _, ok := readProcs()[orphan]; ok {
		t.Fatalf("orphan %d is still there", orphan)
	}
	if err := own.Wait(); err != nil {
		t.Fatalf("the exec.Cmd's own Wait failed (its zombie was taken): %v", err)
	}
}

func isZombie(pid int) bool {
	p, ok := readProcs()[pid]
	return ok && p.state == 'Z'
}
