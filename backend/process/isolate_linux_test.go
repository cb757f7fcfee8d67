//go:build linux

package process_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/process"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the tier changes uid only when its supervisor is root")
	}
}

func marker(t *testing.T) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "srn-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}

// Issue 12 item 1: as root the tier ran the program as uid 0. It must run
// it under an unprivileged uid of the tier's range, with no supplementary
// groups, that cannot read /etc/shadow or write /etc, and the runtime must
// still be reachable (this host's python lives under /root, 0700).
func TestRunsUnprivileged(t *testing.T) {
	needRoot(t)
	needLang(t, "python")
	sb, base := newSandbox(t)
	m := marker(t)
	res := run(t, sb, &sandrun.Request{Language: "bash", Code: `
id -u; id -g; id -G
cat /etc/shadow >/dev/null 2>&1 && echo READ-SHADOW
touch /etc/` + m + ` 2>/dev/null && echo WROTE-ETC
ls /root >/dev/null 2>&1 && echo LISTED-ROOT
kill -0 1 2>/dev/null && echo SIGNALS-INIT
echo done`})
	os.Remove("/etc/" + m)
	f := strings.Fields(res.Stdout)
	if res.Status != sandrun.StatusOK || len(f) < 4 || f[len(f)-1] != "done" {
		t.Fatalf("status %s stdout %q stderr %q", res.Status, res.Stdout, res.Stderr)
	}
	uid, _ := strconv.Atoi(f[0])
	if uid < process.DefaultUIDBase || uid >= process.DefaultUIDBase+process.DefaultUIDCount || f[1] != f[0] || f[2] != f[0] {
		t.Fatalf("uid/gid/groups %v: want one unprivileged uid of the tier's range", f[:3])
	}
	for _, bad := range []string{"READ-SHADOW", "WROTE-ETC", "LISTED-ROOT", "SIGNALS-INIT"} {
		if strings.Contains(res.Stdout, bad) {
			t.Errorf("%s: %q", bad, res.Stdout)
		}
	}
	res = run(t, sb, &sandrun.Request{Language: "python", Code: "import sys, json\nprint(sys.version_info[0], json.dumps([1]))"})
	if res.Status != sandrun.StatusOK || res.Stdout != "3 [1]\n" {
		t.Fatalf("python: status %s stdout %q stderr %q", res.Status, res.Stdout, res.Stderr)
	}
	assertEmpty(t, base)
}

// Two runs at once never share a uid.
func TestConcurrentRunsDistinctUIDs(t *testing.T) {
	needRoot(t)
	sb, _ := newSandbox(t)
	const n = 4
	uids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := sb.Run(t.Context(), &sandrun.Request{Language: "bash", Backend: "process", Code: "id -u; sleep 1"})
			if err == nil && res.Status == sandrun.StatusOK {
				uids[i] = strings.TrimSpace(res.Stdout)
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, u := range uids {
		if u == "" || u == "0" || seen[u] {
			t.Fatalf("uids of concurrent runs: %v", uids)
		}
		seen[u] = true
	}
}

// Issue 12 items 1 and 5: a setsid grandchild escaped the process-group
// kill and lived on, and the run left root-owned files in the host's
// shared directories. After a run nothing of it is left: no process, no
// file of its uid in /tmp, /var/tmp, /dev/shm or /run/lock (nested in a
// world-writable directory too), no System V IPC object.
func TestNothingOutlivesTheRun(t *testing.T) {
	needRoot(t)
	sb, base := newSandbox(t)
	m := marker(t)
	sleep := strconv.Itoa(100000 + os.Getpid()%800000)
	paths := []string{"/tmp/" + m, "/var/tmp/" + m, "/dev/shm/" + m, "/run/lock/" + m, "/tmp/" + m + ".d", "/tmp/" + m + ".l", "/tmp/" + m + ".fifo"}
	// A world-writable directory of someone else's, as /tmp/.X11-unix is.
	shared := filepath.Join("/tmp", m+".shared")
	if err := os.Mkdir(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(shared, 0o1777)
	defer os.RemoveAll(shared)
	defer func() {
		for _, p := range paths {
			os.RemoveAll(p)
		}
	}()
	res := run(t, sb, &sandrun.Request{Language: "bash", Code: fmt.Sprintf(`
m=%s
touch /tmp/$m /var/tmp/$m /dev/shm/$m /run/lock/$m
mkdir -p /tmp/$m.d/a/b && touch /tmp/$m.d/a/b/f && chmod 000 /tmp/$m.d/a
ln -s /etc/passwd /tmp/$m.l
mkfifo /tmp/$m.fifo
touch %s/inner
ipcmk -M 4096 >/dev/null
setsid sleep %s </dev/null >/dev/null 2>&1 &
( setsid sh -c 'sleep %s' </dev/null >/dev/null 2>&1 & )
id -u`, m, shared, sleep, sleep)})
	if res.Status != sandrun.StatusOK {
		t.Fatalf("status %s: %s %s", res.Status, res.Error, res.Stderr)
	}
	uid := strings.TrimSpace(res.Stdout)
	for _, p := range append(paths, filepath.Join(shared, "inner")) {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s is left after the run", p)
		}
	}
	if _, err := os.Stat(shared); err != nil {
		t.Errorf("the shared directory itself (not the run's) was removed: %v", err)
	}
	if pids := procsWithArgs("sleep", sleep); len(pids) > 0 {
		t.Errorf("setsid grandchildren outlived the run: %v", pids)
	}
	if b, _ := os.ReadFile("/proc/sysvipc/shm"); ipcOwner(b, uid) {
		t.Errorf("a shared memory segment of uid %s is left:\n%s", uid, b)
	}
	assertEmpty(t, base)
	if left := groupsOf(os.Getpid()); len(left) > 0 {
		t.Errorf("run cgroups left: %v", left)
	}
}

// procsWithArgs lists the pids whose command line is exactly args.
func procsWithArgs(args ...string) []int {
	want := []byte(strings.Join(args, "\x00") + "\x00")
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if bytes.Equal(b, want) {
			out = append(out, pid)
		}
	}
	return out
}

func ipcOwner(table []byte, uid string) bool {
	lines := strings.Split(string(table), "\n")
	if len(lines) < 2 {
		return false
	}
	col := -1
	for i, h := range strings.Fields(lines[0]) {
		if h == "uid" {
			col = i
		}
	}
	for _, l := range lines[1:] {
		if f := strings.Fields(l); col >= 0 && len(f) > col && f[col] == uid {
			return true
		}
	}
	return false
}

// groupsOf lists the tier's cgroups of supervisor pid in every hierarchy.
func groupsOf(pid int) []string {
	m, _ := filepath.Glob(fmt.Sprintf("/sys/fs/cgroup/*/sandrun-process/%d-*", pid))
	m2, _ := filepath.Glob(fmt.Sprintf("/sys/fs/cgroup/sandrun-process/%d-*", pid))
	return append(m, m2...)
}
