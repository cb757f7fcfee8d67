package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun/lang"
)

// TestConsoleData: through a real `sandrun serve`, the console shows a
// run's figure inline (decoded by the browser), a data session's figure
// and DataFrame table, and keeps a hostile value's HTML inert.
func TestConsoleData(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped under -short")
	}
	if _, err := lang.NewRegistry(lang.Options{}).Lookup(context.Background(), lang.PythonData); err != nil {
		skipOrFail(t, "the data runtime is not installed (scripts/setup.d/30-data.sh): %v", err)
	}
	chromium := "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		skipOrFail(t, "Debian's chromium is needed (scripts/setup.d/65-console.sh installs it): %v", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFail(t, "node is needed: %v", err)
	}
	dir, _ := filepath.Abs("../../server/console/testdata/browser")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core")); err != nil {
		skipOrFail(t, "npm packages missing: run `npm ci` in %s (scripts/setup.d/65-console.sh does)", dir)
	}
	token := fmt.Sprintf("console-data-%d-%d", os.Getpid(), time.Now().UnixNano())
	url := startServe(t, "SANDRUN_TOKENS="+token)
	arts := artifactDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "console_data_e2e.mjs", url, token, arts)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\nstdout %s\nstderr %s", err, b, stderr.String())
	}
	var saw struct {
		Error, Status            string
		PageErrors, Requests     []string
		RunImages, SessionImages [][2]int
		TableCells               []string
		HostileImgs, Dialogs     int
		Pwned                    any
	}
	if err := json.Unmarshal(b, &saw); err != nil {
		t.Fatalf("node printed %q: %v", b, err)
	}
	if saw.Error != "" {
		t.Fatalf("the browser script failed: %s\nsaw %+v", saw.Error, saw)
	}
	if saw.Status != "ok" || len(saw.RunImages) != 1 || saw.RunImages[0] != [2]int{640, 480} {
		t.Errorf("run: status %q images %v", saw.Status, saw.RunImages)
	}
	if len(saw.SessionImages) != 1 || saw.SessionImages[0][0] != 640 {
		t.Errorf("session images %v", saw.SessionImages)
	}
	if !slices.Contains(saw.TableCells, "24") || !slices.Contains(saw.TableCells, "7") {
		t.Errorf("table cells %q", saw.TableCells)
	}
	if saw.HostileImgs != 0 || saw.Pwned != nil || saw.Dialogs != 0 || len(saw.PageErrors) != 0 || len(saw.Requests) != 0 {
		t.Errorf("hostile HTML: %d imgs, pwned %v, dialogs %d, page errors %q, foreign requests %q", saw.HostileImgs, saw.Pwned, saw.Dialogs, saw.PageErrors, saw.Requests)
	}
}
