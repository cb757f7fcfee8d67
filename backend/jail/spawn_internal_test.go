//go:build linux

package jail

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/lang"
)

// TestSpawnPaths starts inits both ways, vforkSpawn (clone3 from C) and
// os/exec (its fallback), and checks what each init is while its program
// runs: the run's host uid and gid (never the supervisor's), exactly
// CAP_SYS_ADMIN and CAP_SETPCAP (the vfork path's CAP_SETUID and
// CAP_SETGID dropped), in the run's cgroup; the supervisor's threads in
// their own groups; the program as uid 1000 with no capability.
func TestSpawnPaths(t *testing.T) {
	if !haveCInit {
		t.Skip("built without cgo: no jail init")
	}
	for _, path := range []string{"vfork", "os/exec"} {
		t.Run(path, func(t *testing.T) {
			b, err := New(Options{Languages: lang.NewRegistry(lang.Options{}), NetPool: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if err := b.Check(context.Background(), "python"); err != nil {
				t.Skipf("jail unavailable here: %v", err)
			}
			if path == "os/exec" {
				b.noVfork.Store(true)
			}
			l, err := b.opts.Languages.Lookup(context.Background(), "python")
			if err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile("/proc/self/cgroup")
			lim := sandrun.Limits{}.WithDefaults()
			code := "import os, sys\nprint(os.getuid(), os.getgid(), open('/proc/self/status').read().split('CapEff:')[1].split()[0], flush=True)\nsys.stdin.read()\n"
			stdinR, stdinW := io.Pipe()
			var out, errb lockedBuffer
			p, err := b.start(&spec{lang: l, argv: l.Command("/work/main.py", int64(lim.Memory), nil), env: programEnv(l, nil),
				files: []initFile{{Name: "main.py", Data: []byte(code)}}, limits: lim, stdin: stdinR, stdout: &out, stderr: &errb})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { stdinW.Close(); p.wait() }()
			if path == "vfork" && b.noVfork.Load() {
				if runtime.GOARCH == "amd64" {
					t.Fatal("the vfork spawn fell back to os/exec on amd64")
				}
				t.Skipf("no vfork spawn on %s", runtime.GOARCH)
			}
			if p.setIDs != (path == "vfork") {
				t.Fatalf("setIDs %v on the %s path", p.setIDs, path)
			}
			<-p.started
			status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.init.Pid))
			if err != nil {
				t.Fatal(err)
			}
			field := func(name string) string {
				for _, line := range strings.Split(string(status), "\n") {
					if v, ok := strings.CutPrefix(line, name+":"); ok {
						return strings.Join(strings.Fields(v), " ")
					}
				}
				return ""
			}
			if uid := strings.Fields(field("Uid")); len(uid) != 4 || uid[0] == "0" || uid[0] != uid[1] || uid[0] != uid[2] || uid[0] != uid[3] {
				t.Errorf("init's uids %q: want one host uid, not root", field("Uid"))
			}
			if gid := strings.Fields(field("Gid")); len(gid) != 4 || gid[0] == "0" {
				t.Errorf("init's gids %q", field("Gid"))
			}
			const initCaps = "0000000000200100" // CAP_SYS_ADMIN, CAP_SETPCAP
			for _, set := range []string{"CapEff", "CapPrm", "CapAmb"} {
				if got := field(set); got != initCaps {
					t.Errorf("init's %s %s, want %s", set, got, initCaps)
				}
			}
			if p.cg != nil {
				cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", p.init.Pid))
				for _, line := range strings.Split(strings.TrimSpace(string(cg)), "\n") {
					// v1: the memory and pids lines (the controllers every
					// run has); v2: the one line.
					parts := strings.SplitN(line, ":", 3)
					if len(parts) != 3 {
						continue
					}
					if v2 := parts[0] == "0"; v2 == b.cg.V2() && (v2 || strings.Contains(","+parts[1]+",", ",memory,") || strings.Contains(","+parts[1]+",", ",pids,")) {
						if !strings.HasSuffix(parts[2], "/"+p.cg.Name()) {
							t.Errorf("init not in the run's group %s: %s", p.cg.Name(), line)
						}
					}
				}
				tasks, _ := os.ReadDir("/proc/self/task")
				for _, tk := range tasks {
					if got, _ := os.ReadFile("/proc/self/task/" + tk.Name() + "/cgroup"); !bytes.Equal(got, before) {
						t.Errorf("supervisor thread %s is in other groups:\n%s\nwant\n%s", tk.Name(), got, before)
					}
				}
			}
			deadline := time.Now().Add(30 * time.Second)
			for !strings.Contains(out.String(), "\n") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if got := out.String(); got != "1000 1000 0000000000000000\n" {
				t.Errorf("the program says %q (stderr %q), want uid and gid 1000 and no capability", got, errb.String())
			}
		})
	}
}

// lockedBuffer is a bytes.Buffer that a copying goroutine may write while
// the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
