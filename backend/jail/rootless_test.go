//go:build linux

package jail_test

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/internal/testenv"
	"github.com/sandrun/sandrun/lang"
)

// TestRootless runs the jail as an unprivileged user: the test (as root)
// creates the user, copies the test binary where that user can execute
// it, and re-runs this test as that user.
func TestRootless(t *testing.T) {
	if os.Getenv("SANDRUN_ROOTLESS_CHILD") == "1" {
		rootlessChild(t)
		return
	}
	if testing.Short() {
		t.Skip("slow: re-runs the test binary as an unprivileged user")
	}
	if os.Geteuid() != 0 {
		skip(t, "needs root to create the unprivileged user (the rootless path itself runs as that user)")
	}
	uid := unprivilegedUser(t)
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "jail.test")
	copyFile(t, self, exe)
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(tmp, uid, uid); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestRootless$", "-test.v", "-test.count=1")
	cmd.Dir = tmp
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + tmp, "TMPDIR=" + tmp, "SANDRUN_ROOTLESS_CHILD=1",
		"SANDRUN_TEST_STRICT=" + os.Getenv("SANDRUN_TEST_STRICT")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	out, err := cmd.CombinedOutput()
	t.Logf("as uid %d:\n%s", uid, out)
	if err != nil {
		t.Fatalf("rootless run failed: %v", err)
	}
	if !strings.Contains(string(out), "ROOTLESS-OK") {
		t.Fatal("the rootless child did not finish its checks")
	}
}

// unprivilegedUser creates a system user of its own for this run (a
// shared name would be deleted under a concurrent suite by the other's
// cleanup) and removes it afterwards.
func unprivilegedUser(t *testing.T) int {
	name := testenv.Name("sr-rootless")
	if out, err := exec.Command("useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
		skip(t, "cannot create the unprivileged user: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("userdel", name).Run() })
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(u.Uid)
	return n
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// rootlessChild is the unprivileged half.
func rootlessChild(t *testing.T) {
	ctx := context.Background()
	// /root is 0700: pyenv's python is out of reach; the system one is not.
	reg := lang.NewRegistry(lang.Options{SearchPath: "/usr/bin:/bin"})
	strict, err := jail.New(jail.Options{Languages: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer strict.Close()
	cgErr := strict.Check(ctx, "python")
	t.Logf("without downgrades: %v", cgErr)
	var se *jail.SetupError
	if cgErr != nil && !(errors.As(cgErr, &se) && strings.Contains(cgErr.Error(), "cgroup")) {
		t.Fatalf("a rootless jail must either work or name the missing layer: %v", cgErr)
	}
	if cgErr != nil {
		// Fail closed: the run is refused, naming the layer.
		req := &sandrun.Request{Language: "python", Code: "print(1)"}
		req.Limits = req.Limits.WithDefaults()
		if _, err := strict.Run(ctx, req); err == nil || !strings.Contains(err.Error(), "cgroup") {
			t.Fatalf("rootless run without cgroups was not refused: %v", err)
		}
	}
	b, err := jail.New(jail.Options{Languages: reg, Downgrade: []string{jail.DowngradeCgroup}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Check(ctx, "python"); err != nil {
		skip(t, "rootless jail unavailable: %v", err)
	}
	req := &sandrun.Request{Language: "python", Code: "import os\nprint(os.getuid(), open('/proc/self/uid_map').read().split(), sorted(set(l.split()[1] for l in open('/proc/self/status') if l.startswith('Cap'))))"}
	req.Limits = req.Limits.WithDefaults()
	res, err := b.Run(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	want := "1000 ['1000', '" + strconv.Itoa(os.Getuid()) + "', '1'] ['0000000000000000']\n"
	if res.Status != sandrun.StatusOK || res.Stdout != want {
		t.Fatalf("rootless run: %s %q (want %q) %q", res.Status, res.Stdout, want, res.Stderr)
	}
	if len(res.Downgrades) == 0 || !strings.HasPrefix(res.Downgrades[0], "cgroup") {
		t.Fatalf("downgrades not reported: %v", res.Downgrades)
	}
	req = &sandrun.Request{Language: "python", Code: "import time; time.sleep(30)"}
	req.Limits = sandrun.Limits{WallTime: sandrun.Duration(time.Second)}.WithDefaults()
	if res, err = b.Run(ctx, req); err != nil || res.Status != sandrun.StatusTimeout {
		t.Fatalf("rootless timeout: %v %+v", err, res)
	}
	t.Log("ROOTLESS-OK")
}
