package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func skipOrFail(t *testing.T, format string, a ...any) {
	t.Helper()
	if os.Getenv("SANDRUN_TEST_STRICT") == "1" {
		t.Fatalf(format, a...)
	}
	t.Skipf(format, a...)
}

// TestMCPStdio: the official TypeScript MCP client spawns `sandrun mcp`
// and calls its tools over stdio.
func TestMCPStdio(t *testing.T) {
	if testing.Short() {
		t.Skip("npm client test: skipped under -short")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFail(t, "node is needed: %v", err)
	}
	dir, _ := filepath.Abs("../../server/testdata/clients")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "sdk")); err != nil {
		skipOrFail(t, "npm packages missing: run `npm ci` in %s (scripts/setup.d/60-server.sh does)", dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "mcp_client.mjs", "stdio", os.Args[0], "mcp", "--log-level", "warn")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SANDRUN_TEST_CLI=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, b, stderr.String())
	}
	var out struct {
		Tools []struct{ Name string }
		Run   struct {
			Content           []struct{ Text string }
			StructuredContent map[string]any
			IsError           bool
		}
		BadLanguage struct{ IsError bool }
		Session     struct {
			Get struct {
				StructuredContent map[string]any
				Thrown            string
			}
			List struct{ StructuredContent map[string]any }
		}
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	var names []string
	for _, tl := range out.Tools {
		names = append(names, tl.Name)
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "list_languages,run_code,session_close,session_create,session_list,session_run" {
		t.Errorf("tools %v", names)
	}
	sc := out.Run.StructuredContent
	if out.Run.IsError || sc["stdout"] != "from-a-file from-stdin\n" || sc["exit_code"] != float64(4) || sc["backend"] == "" {
		t.Errorf("run_code %+v", out.Run)
	}
	if len(out.Run.Content) == 0 || !strings.HasPrefix(out.Run.Content[0].Text, "status: exit_error (exit code 4)") {
		t.Errorf("run_code text %+v", out.Run.Content)
	}
	if !out.BadLanguage.IsError {
		t.Error("an unknown language was not a tool error")
	}
	// The session tools over stdio: state kept between steps, the reply
	// valid against session_run's output schema (the client checks it).
	if g := out.Session.Get; g.StructuredContent["stdout"] != "42\n" || g.Thrown != "" {
		t.Errorf("session_run %+v", g)
	}
	if l, _ := out.Session.List.StructuredContent["sessions"].([]any); len(l) != 1 {
		t.Errorf("session_list %+v", out.Session.List)
	}
}
