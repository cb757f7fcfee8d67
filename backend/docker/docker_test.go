package docker_test

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/docker"
	"github.com/sandrun/sandrun/internal/testenv"
)

// need returns a backend that can run language, or skips (fails under
// SANDRUN_TEST_STRICT=1) saying what is missing.
func need(t *testing.T, language string) *docker.Backend {
	t.Helper()
	if testing.Short() {
		t.Skip("docker tier: slow, skipped with -short")
	}
	b := docker.New(docker.Options{})
	t.Cleanup(func() { b.Close() })
	if err := b.Check(context.Background(), language); err != nil {
		if os.Getenv("SANDRUN_TEST_STRICT") == "1" {
			t.Fatalf("docker tier unavailable: %v", err)
		}
		t.Skipf("docker tier unavailable (start dockerd and run `sandrun image build all`): %v", err)
	}
	return b
}

func run(t *testing.T, b *docker.Backend, req *sandrun.Request) *sandrun.Result {
	t.Helper()
	req.Limits = req.Limits.WithDefaults()
	res, err := b.Run(context.Background(), req)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	res.Finish()
	return res
}

func TestLanguages(t *testing.T) {
	b := need(t, "python")
	for _, c := range []struct{ lang, code, want string }{
		{"python", "import sys; print('py', sys.stdin.read())", "py hello"},
		{"javascript", "let s=require('fs').readFileSync(0,'utf8'); console.log('js', s)", "js hello"},
		{"bash", "read x; echo sh $x", "sh hello"},
	} {
		t.Run(c.lang, func(t *testing.T) {
			res := run(t, b, &sandrun.Request{Language: c.lang, Code: c.code, Stdin: "hello"})
			if res.Status != sandrun.StatusOK || strings.TrimSpace(res.Stdout) != c.want {
				t.Fatalf("status %s stdout %q stderr %q err %s", res.Status, res.Stdout, res.Stderr, res.Error)
			}
		})
	}
}

func TestCollect(t *testing.T) {
	b := need(t, "python")
	res := run(t, b, &sandrun.Request{Language: "python", Collect: []string{"*.txt"},
		Code: "import os; print('out'); open('r.txt','w').write('R'); open('n.bin','w').write('N'); os.symlink('/etc/passwd', 'l.txt')"})
	if res.Status != sandrun.StatusOK || res.Stdout != "out\n" {
		t.Fatalf("status %s stdout %q stderr %q", res.Status, res.Stdout, res.Stderr)
	}
	if len(res.Files) != 1 || res.Files[0].Name != "r.txt" || string(res.Files[0].Content) != "R" {
		t.Fatalf("files %+v", res.Files)
	}
	res = run(t, b, &sandrun.Request{Language: "python", Collect: []string{"*"}, Code: "import sys; open('x','w').write('x'); sys.exit(4)"})
	if res.Status != sandrun.StatusExitError || res.ExitCode != 4 || len(res.Files) != 2 || res.Files[1].Name != "x" {
		t.Fatalf("status %s exit %d files %+v", res.Status, res.ExitCode, res.Files)
	}
}

func TestFilesArgsEnvExit(t *testing.T) {
	b := need(t, "python")
	res := run(t, b, &sandrun.Request{Language: "python",
		Code:  "import sys,os; print(open('data/in.txt').read(), sys.argv[1:], os.environ['FOO']); sys.exit(3)",
		Files: []sandrun.InputFile{{Name: "data/in.txt", Content: "filebody"}},
		Args:  []string{"a", "b c"}, Env: map[string]string{"FOO": "bar"}})
	if res.Status != sandrun.StatusExitError || res.ExitCode != 3 {
		t.Fatalf("status %s exit %d stderr %q", res.Status, res.ExitCode, res.Stderr)
	}
	if want := "filebody ['a', 'b c'] bar\n"; res.Stdout != want {
		t.Fatalf("stdout %q, want %q", res.Stdout, want)
	}
}

// TestPosture reads the container's view of itself: the protections the
// configuration promises must be in force inside.
func TestPosture(t *testing.T) {
	b := need(t, "python")
	code := `
import os, json, socket
st = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
out = {k: st[k].strip() for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh", "Seccomp", "NoNewPrivs", "Uid", "Gid")}
out["env"] = sorted(os.environ)
out["fds"] = sorted(os.listdir("/proc/self/fd"))
out["pids"] = sorted(p for p in os.listdir("/proc") if p.isdigit())
out["ifaces"] = sorted(l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:])
out["hostname"] = socket.gethostname()
try:
    open("/etc/sandrun-probe", "w"); out["root_writable"] = True
except OSError as e:
    out["root_writable"] = e.errno
out["docker_sock"] = os.path.exists("/var/run/docker.sock") or os.path.exists("/run/docker.sock")
out["mounts"] = [l.split()[1:4] for l in open("/proc/self/mounts") if l.split()[1] in ("/", "/tmp", "/work")]
print(json.dumps(out))
`
	res := run(t, b, &sandrun.Request{Language: "python", Code: code})
	if res.Status != sandrun.StatusOK {
		t.Fatalf("status %s: %s %s", res.Status, res.Error, res.Stderr)
	}
	out := res.Stdout
	for _, want := range []string{
		`"CapEff": "0000000000000000"`, `"CapPrm": "0000000000000000"`, `"CapBnd": "0000000000000000"`,
		`"CapAmb": "0000000000000000"`, `"Seccomp": "2"`, `"NoNewPrivs": "1"`,
		`"Uid": "65534\t65534\t65534\t65534"`, `"Gid": "65534\t65534\t65534\t65534"`,
		`"env": ["HOME", "LANG", "PATH", "TMPDIR"]`, `"fds": ["0", "1", "2", "3"]`,
		`"ifaces": ["lo"]`, `"hostname": "sandrun"`, `"root_writable": 30`, `"docker_sock": false`,
		`["/", "overlay", "ro,`, `["/tmp", "tmpfs", "rw,nosuid,nodev,noexec`, `["/work", "tmpfs", "rw,nosuid,nodev,noexec`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("posture: missing %s in\n%s", want, out)
		}
	}
	// docker-init is pid 1, the program its child: nothing else.
	var parsed struct{ Pids []string }
	if err := json.Unmarshal([]byte(out), &parsed); err != nil || len(parsed.Pids) != 2 || parsed.Pids[0] != "1" {
		t.Errorf("posture: processes visible: %v (%v)", parsed.Pids, err)
	}
}

func TestLimits(t *testing.T) {
	b := need(t, "python")
	cases := []struct {
		name string
		req  sandrun.Request
		want sandrun.Status
	}{
		{"timeout", sandrun.Request{Language: "python", Code: "import time; time.sleep(60)", Limits: sandrun.Limits{WallTime: sandrun.Duration(2 * time.Second)}}, sandrun.StatusTimeout},
		{"memory", sandrun.Request{Language: "python", Code: "x = bytearray(1 << 20)\nb = []\nwhile True: b.append(bytearray(1 << 20))", Limits: sandrun.Limits{Memory: 64 << 20}}, sandrun.StatusMemoryLimit},
		{"output", sandrun.Request{Language: "python", Code: "while True: print('x' * 1000)", Limits: sandrun.Limits{Output: 64 << 10}}, sandrun.StatusOutputLimit},
		{"cpu", sandrun.Request{Language: "python", Code: "while True: pass", Limits: sandrun.Limits{CPUTime: sandrun.Duration(time.Second)}}, sandrun.StatusCPULimit},
		{"cpu in many processes", sandrun.Request{Language: "bash", Code: "for i in 1 2 3 4; do (while :; do :; done) & done; wait; echo survived", Limits: sandrun.Limits{CPUTime: sandrun.Duration(time.Second), WallTime: sandrun.Duration(20 * time.Second)}}, sandrun.StatusCPULimit},
		{"file size", sandrun.Request{Language: "bash", Code: "echo start; head -c 3000000 /dev/zero > /work/big", Limits: sandrun.Limits{FileSize: 1 << 20}}, sandrun.StatusFileSizeLimit},
		{"fork bomb", sandrun.Request{Language: "bash", Code: "for i in $(seq 100); do sleep 5 & done; wait", Limits: sandrun.Limits{Processes: 16, WallTime: sandrun.Duration(3 * time.Second)}}, sandrun.StatusTimeout},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := c.req
			// Only the timeout cases are about the wall clock; the others
			// get one scaled to the host's load, so a busy host cannot
			// turn their limit into a timeout (CPU time accrues slowly).
			if c.want != sandrun.StatusTimeout && req.Limits.WallTime == 0 {
				req.Limits.WallTime = sandrun.Duration(testenv.Scale(t, 30*time.Second))
			}
			res := run(t, b, &req)
			if res.Status != c.want {
				t.Fatalf("status %s (%s), want %s; stderr %q", res.Status, res.Error, c.want, tail(res.Stderr))
			}
			if c.name == "output" && (!res.StdoutTruncated || len(res.Stdout) > 70<<10) {
				t.Fatalf("output not capped: %d bytes, truncated=%v", len(res.Stdout), res.StdoutTruncated)
			}
			if c.name == "fork bomb" && !strings.Contains(res.Stderr, "fork") && !strings.Contains(res.Stderr, "Resource temporarily unavailable") {
				t.Fatalf("pids limit did not bind: %q", tail(res.Stderr))
			}
		})
	}
}

func TestUsageReported(t *testing.T) {
	b := need(t, "python")
	res := run(t, b, &sandrun.Request{Language: "python", Code: "x = bytearray(40 << 20); s = sum(range(3_000_000)); print(len(x))"})
	if res.Status != sandrun.StatusOK {
		t.Fatalf("status %s %s", res.Status, res.Stderr)
	}
	if res.Usage.MemoryPeakBytes < 40<<20 || res.Usage.CPUMs <= 0 || res.Usage.WallMs <= 0 {
		t.Fatalf("usage not measured: %+v", res.Usage)
	}
}

// TestNoLeftovers: after runs, including killed ones, no container of
// this tier is left, and the sweep removes one a dead supervisor left.
func TestNoLeftoversAndSweep(t *testing.T) {
	b := need(t, "bash")
	run(t, b, &sandrun.Request{Language: "bash", Code: "sleep 30", Limits: sandrun.Limits{WallTime: sandrun.Duration(time.Second)}})
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()
	mine := filters.NewArgs(filters.Arg("label", docker.LabelBackend+"="+docker.Name))
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: mine})
		if err != nil {
			t.Fatal(err)
		}
		left := 0
		for _, c := range list {
			if strings.HasSuffix(c.Labels[docker.LabelOwner], ":"+itoa(os.Getpid())) {
				left++
			}
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d containers left after the runs", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A container "left by a crash": owner is a pid that does not exist.
	host, _ := os.Hostname()
	created, err := cli.ContainerCreate(ctx, &container.Config{Image: b.Image("bash"), Cmd: []string{"sleep", "60"},
		Labels: map[string]string{docker.LabelBackend: docker.Name, docker.LabelOwner: host + ":4194303"}},
		&container.HostConfig{NetworkMode: "none"}, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	fresh := docker.New(docker.Options{})
	defer fresh.Close()
	if err := fresh.Check(ctx, "bash"); err != nil { // the first use sweeps
		t.Fatal(err)
	}
	if _, err := cli.ContainerInspect(ctx, created.ID); !cerrdefs.IsNotFound(err) {
		_ = cli.ContainerRemove(ctx, created.ID, container.RemoveOptions{Force: true})
		t.Fatalf("stale container not swept: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func tail(s string) string {
	if len(s) > 400 {
		return s[len(s)-400:]
	}
	return s
}

// TestBuildImageCached: with the image built (scripts/setup.d builds it
// with `sandrun image build all`), a second build is a label check.
func TestBuildImageCached(t *testing.T) {
	b := need(t, "bash")
	res, err := b.BuildImage(context.Background(), "bash", docker.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Cached || res.Image != "sandrun-bash:bookworm" {
		t.Fatalf("not cached: %+v", res)
	}
	if _, err := b.BuildImage(context.Background(), "cobol", docker.BuildOptions{}); err == nil {
		t.Fatal("unknown language accepted")
	}
}
