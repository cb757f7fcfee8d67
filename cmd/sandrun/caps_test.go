package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
)

// Issue 12 item 4: limits that validation accepts must work on every tier
// (open_files 65536 passed validation and ended internal_error). With
// every resource limit at this host's cap for one run, each OS tier that
// runs here runs the program; one past a cap is refused (exit 64).
func TestEveryTierRunsAtTheCaps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a program on every tier")
	}
	auditEnv(t)
	c := sandrun.HostPolicy(1, "").Caps
	caps := []string{
		"--memory", c.Memory.String(), "--open-files", fmt.Sprint(c.OpenFiles), "--processes", fmt.Sprint(c.Processes),
		"--file-size", c.FileSize.String(), "--output", c.Output.String(), "--workdir-size", c.WorkDir.String(),
	}
	ran := 0
	for _, backend := range []string{"jail", "process", "docker", "gvisor"} {
		args := append([]string{"run", "--json", "--lang", "python", "--backend", backend, "-c", "print('at the caps')"}, caps...)
		code, out, errs := runCLI(t, "", args...)
		var res sandrun.Result
		_ = json.Unmarshal([]byte(out), &res)
		if res.Status == sandrun.StatusInternalError && strings.Contains(res.Error, "unavailable") {
			t.Logf("%s: not on this host: %s", backend, res.Error)
			continue
		}
		ran++
		if code != 0 || res.Status != sandrun.StatusOK || res.Stdout != "at the caps\n" {
			t.Errorf("%s at the caps %v: exit %d status %s error %q stderr %q", backend, caps, code, res.Status, res.Error, errs)
		}
	}
	if ran == 0 {
		t.Fatal("no tier ran")
	}
	code, _, errs := runCLI(t, "", "run", "--lang", "python", "-c", "print(1)", "--open-files", fmt.Sprint(c.OpenFiles+1))
	if code != exitRejected || !strings.Contains(errs, "limits.open_files") {
		t.Fatalf("one past the open-files cap: exit %d %s", code, errs)
	}
}
