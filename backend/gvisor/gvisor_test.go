package gvisor_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/gvisor"
	"github.com/sandrun/sandrun/internal/testenv"
	"github.com/sandrun/sandrun/lang"
)

func need(t *testing.T, language string) *gvisor.Backend {
	t.Helper()
	if testing.Short() {
		t.Skip("gvisor tier: slow, skipped with -short")
	}
	b := gvisor.New(gvisor.Options{Languages: lang.NewRegistry(lang.Options{}), BaseDir: t.TempDir()})
	if err := b.Check(context.Background(), language); err != nil {
		testenv.Skip(t, "gvisor tier unavailable (apt-get install runsc; run as root): %v", err)
	}
	return b
}

func run(t *testing.T, b *gvisor.Backend, req *sandrun.Request) *sandrun.Result {
	t.Helper()
	req.Limits = req.Limits.WithDefaults()
	res, err := b.Run(context.Background(), req)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	res.Finish()
	return res
}

func TestLanguagesStdinCollect(t *testing.T) {
	b := need(t, "python")
	res := run(t, b, &sandrun.Request{Language: "python", Stdin: "hello",
		Code:    "import sys; d = sys.stdin.read(); print('py', d, open('in.txt').read()); open('out.txt', 'w').write(d.upper())",
		Files:   []sandrun.InputFile{{Name: "in.txt", Content: "file"}},
		Collect: []string{"*.txt"}})
	if res.Status != sandrun.StatusOK || res.Stdout != "py hello file\n" {
		t.Fatalf("status %s stdout %q stderr %q", res.Status, res.Stdout, res.Stderr)
	}
	got := map[string]string{}
	for _, f := range res.Files {
		got[f.Name] = string(f.Content)
	}
	if got["out.txt"] != "HELLO" {
		t.Fatalf("collected %v", got)
	}
	for _, c := range []struct{ lang, code string }{
		{"javascript", "console.log('js', 6*7)"},
		{"bash", "echo js $((6*7))"},
	} {
		t.Run(c.lang, func(t *testing.T) {
			if _, err := lang.NewRegistry(lang.Options{}).Lookup(context.Background(), c.lang); err != nil {
				testenv.Skip(t, "%s: %v", c.lang, err)
			}
			res := run(t, b, &sandrun.Request{Language: c.lang, Code: c.code})
			if res.Status != sandrun.StatusOK || !strings.Contains(res.Stdout, "42") {
				t.Errorf("%s: status %s stdout %q stderr %q", c.lang, res.Status, res.Stdout, res.Stderr)
			}
		})
	}
}

func TestPosture(t *testing.T) {
	b := need(t, "python")
	code := `
import os, json, socket
st = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
out = {k: st.get(k, "").strip() for k in ("CapEff", "CapPrm", "CapBnd", "Seccomp", "Uid", "Gid")}
out["env"] = sorted(os.environ)
out["pids"] = sorted(p for p in os.listdir("/proc") if p.isdigit())
out["ifaces"] = sorted(l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:])
for p in ("/etc/sandrun-probe", "/usr/sandrun-probe"):
    try:
        open(p, "w"); out[p] = "writable"
    except OSError as e:
        out[p] = e.errno
out["shadow"] = os.path.exists("/etc/shadow")
out["docker_sock"] = os.path.exists("/var/run/docker.sock")
try:
    socket.create_connection(("127.0.0.1", 22), timeout=1); out["tcp"] = "connected"
except OSError as e:
    out["tcp"] = "refused"
print(json.dumps(out))
`
	res := run(t, b, &sandrun.Request{Language: "python", Code: code})
	if res.Status != sandrun.StatusOK {
		t.Fatalf("status %s: %s %s", res.Status, res.Error, res.Stderr)
	}
	for _, want := range []string{
		`"CapEff": "0000000000000000"`, `"CapPrm": "0000000000000000"`, `"CapBnd": "0000000000000000"`,
		`"Seccomp": "2"`, `"Uid": "65534\t65534\t65534\t65534"`, `"env": ["HOME", "LANG", "PATH", "TMPDIR"]`,
		`"pids": ["1"]`, `"ifaces": ["lo"]`, `"shadow": false`, `"docker_sock": false`, `"tcp": "refused"`,
	} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("posture: missing %s in %s", want, res.Stdout)
		}
	}
	if strings.Contains(res.Stdout, `"writable"`) {
		t.Errorf("root is writable: %s", res.Stdout)
	}
}

func TestLimits(t *testing.T) {
	b := need(t, "python")
	cases := []struct {
		name string
		req  sandrun.Request
		want sandrun.Status
	}{
		{"timeout", sandrun.Request{Language: "python", Code: "import time; time.sleep(60)", Limits: sandrun.Limits{WallTime: sandrun.Duration(5 * time.Second)}}, sandrun.StatusTimeout},
		{"output", sandrun.Request{Language: "python", Code: "while True: print('x' * 1000)", Limits: sandrun.Limits{Output: 64 << 10}}, sandrun.StatusOutputLimit},
		{"cpu", sandrun.Request{Language: "python", Code: "while True: pass", Limits: sandrun.Limits{CPUTime: sandrun.Duration(time.Second), WallTime: sandrun.Duration(30 * time.Second)}}, sandrun.StatusCPULimit},
		{"memory", sandrun.Request{Language: "python", Code: "b = []\nwhile True: b.append(bytearray(1 << 20))", Limits: sandrun.Limits{Memory: 64 << 20, WallTime: sandrun.Duration(30 * time.Second)}}, sandrun.StatusMemoryLimit},
		{"file size", sandrun.Request{Language: "python", Code: "open('big', 'wb').write(b'x' * 3000000)", Limits: sandrun.Limits{FileSize: 1 << 20}}, sandrun.StatusFileSizeLimit},
		{"fork bomb", sandrun.Request{Language: "python", Code: "import os, time\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n            time.sleep(30); os._exit(0)\n        n += 1\nexcept OSError as e:\n    print('stopped', n, e.errno)", Limits: sandrun.Limits{Processes: 16}}, sandrun.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := c.req
			res := run(t, b, &req)
			if res.Status != c.want {
				t.Fatalf("status %s (%s), want %s; stderr %q", res.Status, res.Error, c.want, tail(res.Stderr))
			}
			if c.name == "fork bomb" && !strings.HasPrefix(res.Stdout, "stopped 1") {
				t.Fatalf("the processes limit did not stop the fork loop: %q", res.Stdout)
			}
		})
	}
}

func tail(s string) string {
	if len(s) > 400 {
		return s[len(s)-400:]
	}
	return s
}
