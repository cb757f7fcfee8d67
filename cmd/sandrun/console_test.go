package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startServe runs `sandrun serve` (this test binary standing in for it)
// on a free loopback port with a fresh audit log and the given extra
// environment; it returns the base URL (http://127.0.0.1:PORT). The server is stopped at cleanup.
func startServe(t *testing.T, env ...string) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "serve", "--addr", "127.0.0.1:0", "--log-level", "warn", "--drain", "5s")
	cmd.Env = append(os.Environ(), append([]string{"SANDRUN_TEST_CLI=1", "XDG_STATE_HOME=" + dir,
		"SANDRUN_AUDIT_PATH=" + filepath.Join(dir, "audit.db")}, env...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var log strings.Builder
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			log.WriteString(line + "\n")
			mu.Unlock()
			if _, rest, ok := strings.Cut(line, "serving on "); ok {
				addr <- strings.Fields(rest)[0]
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			mu.Lock()
			t.Logf("server log:\n%s", log.String())
			mu.Unlock()
		}
	})
	select {
	case a := <-addr:
		return a
	case <-time.After(2 * time.Minute):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("serve did not start:\n%s", log.String())
	}
	return ""
}

// artifactDir is where the console test keeps its screenshots:
// $SANDRUN_ARTIFACTS/console-<time>, kept; else a temp dir kept only when
// the test fails. The test prints it.
func artifactDir(t *testing.T) string {
	t.Helper()
	if root := os.Getenv("SANDRUN_ARTIFACTS"); root != "" {
		d := filepath.Join(root, "console-"+time.Now().Format("20060102-150405"))
		t.Logf("screenshots: %s", d)
		return d
	}
	d, err := os.MkdirTemp("", "sandrun-console-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("screenshots kept: %s", d)
			return
		}
		os.RemoveAll(d)
	})
	t.Logf("screenshots: %s (removed when the test passes; set SANDRUN_ARTIFACTS to keep them)", d)
	return d
}

type consoleSaw struct {
	Error                       string
	PageErrors, Console         []string
	Dialogs                     int
	TokenInStorage              string
	VerdictWhileStreaming       string
	Output                      string
	StderrText, Marks           []string
	Status                      string
	Detections, Files           []string
	RunID                       string
	DownloadName, Downloaded    string
	HistoryRow, Detail          string
	DetailStatus                string
	FilteredOk, FilteredTimeout int
	Transcript                  string
	SessionRows                 int
	Ready, AuditErrors          string
	RunsTotal                   int
	HostileOutput               string
	HostileFiles                []string
	HostileImgs                 int
	Pwned                       any
	ForeignRequests             []string
}

// TestConsoleBrowser drives the web console of a real `sandrun serve`
// (tokens on, audit log on, the default tier) in headless Chromium with
// playwright-core: it enters the token, clicks Run on a python snippet,
// sees the output while it runs, the verdict, the highlighted redaction
// and the collected file, then finds the run in the history and opens its
// detail; it runs a session step, reads the health view, and checks that
// hostile output stays text.
func TestConsoleBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped under -short")
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
	token := fmt.Sprintf("console-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	url := startServe(t, "SANDRUN_TOKENS="+token)
	arts := artifactDir(t)

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "console_e2e.mjs", url, token, arts)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\nstdout %s\nstderr %s", err, b, stderr.String())
	}
	var saw consoleSaw
	if err := json.Unmarshal(b, &saw); err != nil {
		t.Fatalf("node printed %q: %v\nstderr %s", b, err, stderr.String())
	}
	if saw.Error != "" {
		t.Fatalf("the browser script failed: %s\nsaw %+v", saw.Error, saw)
	}
	check := func(ok bool, format string, a ...any) {
		t.Helper()
		if !ok {
			t.Errorf(format, a...)
		}
	}
	check(len(saw.PageErrors) == 0, "page errors: %q", saw.PageErrors)
	check(saw.TokenInStorage == token, "the token was not kept in sessionStorage: %q", saw.TokenInStorage)
	// Streaming: the first line showed while the verdict still said running.
	check(strings.Contains(saw.VerdictWhileStreaming, "running"), "the first line came with the verdict %q, not before it", saw.VerdictWhileStreaming)
	check(saw.Status == "ok", "status %q", saw.Status)
	check(strings.Contains(saw.Output, "first line\n") && strings.Contains(saw.Output, "key [REDACTED_AWS_KEY] end"), "output %q", saw.Output)
	check(!strings.Contains(saw.Output, "AKIAIOSFODNN7EXAMPLQ"), "the secret reached the page: %q", saw.Output)
	check(slices.Equal(saw.Marks, []string{"[REDACTED_AWS_KEY]"}), "redaction marks %q", saw.Marks)
	check(strings.Join(saw.StderrText, "") == "to stderr\n", "stderr %q", saw.StderrText)
	check(len(saw.Detections) == 1 && strings.Contains(saw.Detections[0], "aws-access-key"), "detections %q", saw.Detections)
	check(slices.Equal(saw.Files, []string{"result.txt"}), "files %q", saw.Files)
	check(len(saw.RunID) == 32, "run id %q", saw.RunID)
	check(saw.DownloadName == "result.txt" && saw.Downloaded == "file body", "download %q: %q", saw.DownloadName, saw.Downloaded)
	// History and detail.
	check(strings.Contains(saw.HistoryRow, "python") && strings.Contains(saw.HistoryRow, "ok"), "history row %q", saw.HistoryRow)
	check(saw.DetailStatus == "ok" && strings.Contains(saw.Detail, saw.RunID) && strings.Contains(saw.Detail, "aws-access-key"), "detail %q", saw.Detail)
	check(saw.FilteredOk == 1 && saw.FilteredTimeout == 0, "filters: ok+python %d rows, timeout %d rows", saw.FilteredOk, saw.FilteredTimeout)
	// Session and health.
	check(strings.Contains(saw.Transcript, ">>> x * 2 + 2") && strings.Contains(saw.Transcript, "42"), "session transcript %q", saw.Transcript)
	check(saw.SessionRows == 1, "session rows %d", saw.SessionRows)
	check(saw.Ready == "ready" && saw.RunsTotal >= 1 && saw.AuditErrors == "0", "health: ready %q runs %d audit errors %q", saw.Ready, saw.RunsTotal, saw.AuditErrors)
	// Hostile output.
	check(strings.Contains(saw.HostileOutput, `<img src=x onerror="window.__pwned=1">`) && strings.Contains(saw.HostileOutput, "<script>window.__pwned=2</script>"),
		"hostile output not shown as text: %q", saw.HostileOutput)
	check(saw.Pwned == nil && saw.HostileImgs == 0 && saw.Dialogs == 0, "hostile output ran in the page: pwned %v, %d img elements, %d dialogs", saw.Pwned, saw.HostileImgs, saw.Dialogs)
	check(slices.Equal(saw.HostileFiles, []string{"<img src=y onerror=window.__pwned=3>.txt"}), "hostile file name %q", saw.HostileFiles)
	check(len(saw.ForeignRequests) == 0, "requests to other origins: %q", saw.ForeignRequests)
}

// TestServeRunHistory: through a real `sandrun serve` with two tokens and
// the audit log, GET /v1/runs lists each caller's own runs only, with
// filters, and GET /v1/status counts them.
func TestServeRunHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("starts sandrun serve")
	}
	a, b := fmt.Sprintf("history-a-%d-secret", os.Getpid()), fmt.Sprintf("history-b-%d-secret", os.Getpid())
	url := startServe(t, "SANDRUN_TOKENS="+a+","+b)
	call := func(method, path, token, body string, out any) int {
		t.Helper()
		req, err := http.NewRequest(method, url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if out != nil {
			if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
		}
		return resp.StatusCode
	}
	var ok, failed struct{ ID, Status string }
	if c := call("POST", "/v1/runs", a, `{"language":"python","code":"print(1)"}`, &ok); c != 200 || ok.Status != "ok" {
		t.Fatalf("run: %d %+v", c, ok)
	}
	if c := call("POST", "/v1/runs", a, `{"language":"python","code":"raise SystemExit(4)"}`, &failed); c != 200 || failed.Status != "exit_error" {
		t.Fatalf("run: %d %+v", c, failed)
	}
	type list struct {
		Runs []struct{ ID, Status, Stdout string }
		More bool
	}
	ids := func(token, q string, want int) []string {
		t.Helper()
		// The audit write is off the run's path: wait for it.
		var l list
		for i := 0; i < 100; i++ {
			l = list{}
			if c := call("GET", "/v1/runs"+q, token, "", &l); c != 200 {
				t.Fatalf("list %s: %d", q, c)
			}
			if len(l.Runs) >= want {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		var out []string
		for _, r := range l.Runs {
			if r.Stdout != "" {
				t.Errorf("the history holds output: %+v", r)
			}
			out = append(out, r.ID)
		}
		return out
	}
	if got := ids(a, "", 2); !slices.Equal(got, []string{failed.ID, ok.ID}) {
		t.Errorf("caller a lists %q, want its two runs newest first", got)
	}
	if got := ids(a, "?status=exit_error&language=py", 1); !slices.Equal(got, []string{failed.ID}) {
		t.Errorf("filtered: %q", got)
	}
	if got := ids(b, "", 0); len(got) != 0 {
		t.Errorf("caller b sees a's runs: %q", got)
	}
	var st struct{ Runs map[string]int64 }
	if c := call("GET", "/v1/status", b, "", &st); c != 200 || st.Runs["ok"] != 1 || st.Runs["exit_error"] != 1 {
		t.Errorf("status: %d %+v", c, st)
	}

	// A session step (interactive over HTTP: the value is echoed) is in
	// the history under its session.
	var sess struct{ ID string }
	if c := call("POST", "/v1/sessions", a, `{"language":"python"}`, &sess); c != 201 {
		t.Fatalf("session: %d", c)
	}
	var step struct{ ID, Stdout, Session string }
	if c := call("POST", "/v1/sessions/"+sess.ID+"/run", a, `{"code":"6*7","interactive":true}`, &step); c != 200 || step.Stdout != "42\n" {
		t.Fatalf("step: %d %+v", c, step)
	}
	if got := ids(a, "?session="+sess.ID, 1); !slices.Equal(got, []string{step.ID}) {
		t.Errorf("the session's steps: %q, want %q", got, step.ID)
	}
	call("DELETE", "/v1/sessions/"+sess.ID, a, "", nil)
}
