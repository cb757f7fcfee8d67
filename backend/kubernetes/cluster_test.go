package kubernetes

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
)

func run(t *testing.T, b *Backend, req *sandrun.Request) *sandrun.Result {
	t.Helper()
	req.Limits = req.Limits.WithDefaults()
	if err := req.Validate(0); err != nil {
		t.Fatal(err)
	}
	res, err := b.Run(t.Context(), req)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	res.Finish()
	return res
}

// TestRun: the same Request and Result as every tier: code, args, env,
// stdin, files in, files back, exit codes, stderr, three languages.
func TestRun(t *testing.T) {
	b := clusterBackend(t, Options{})
	cases := []struct {
		name   string
		req    sandrun.Request
		status sandrun.Status
		code   int
		stdout string
		stderr string
	}{
		{name: "print", req: sandrun.Request{Language: "python", Code: "print(1)"}, status: sandrun.StatusOK, stdout: "1\n"},
		{name: "exit code", req: sandrun.Request{Language: "python", Code: "import sys; print('x'); sys.exit(4)"},
			status: sandrun.StatusExitError, code: 4, stdout: "x\n"},
		{name: "stderr", req: sandrun.Request{Language: "python", Code: "import sys; sys.stderr.write('oops\\n')"},
			status: sandrun.StatusOK, stderr: "oops\n"},
		{name: "stdin args env", req: sandrun.Request{Language: "python",
			Code:  "import os, sys; print(sys.stdin.read().upper(), sys.argv[1:], os.environ['GREETING'], sorted(os.environ))",
			Stdin: "hello\nworld", Args: []string{"a b", "it's"}, Env: map[string]string{"GREETING": "hi 'there'"}},
			status: sandrun.StatusOK,
			stdout: "HELLO\nWORLD ['a b', \"it's\"] hi 'there' ['GREETING', 'HOME', 'LANG', 'PATH', 'TMPDIR']\n"},
		{name: "files", req: sandrun.Request{Language: "bash",
			Code: "cat data/in.txt; od -An -tx1 bin.dat | tr -d ' \\n'; echo; echo made > out.txt; mkdir -p sub; echo deep > sub/x.txt",
			Files: []sandrun.InputFile{{Name: "data/in.txt", Content: "file body"},
				{Name: "bin.dat", Content: base64.StdEncoding.EncodeToString([]byte{0, 1, 255}), Encoding: "base64"}},
			Collect: []string{"*.txt", "sub/*"}},
			status: sandrun.StatusOK, stdout: "file body0001ff\n"},
		{name: "javascript", req: sandrun.Request{Language: "javascript", Code: "console.log(6*7)"}, status: sandrun.StatusOK, stdout: "42\n"},
		// The pod must not end before the last byte of a burst arrived.
		{name: "burst then exit", req: sandrun.Request{Language: "python", Code: "import sys\nsys.stdout.write('x' * 500000)\nsys.stdout.flush()"},
			status: sandrun.StatusOK, stdout: strings.Repeat("x", 500000)},
	}
	var wg sync.WaitGroup
	results := make([]*sandrun.Result, len(cases))
	for i := range cases {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = run(t, b, &cases[i].req) }()
	}
	wg.Wait()
	for i, c := range cases {
		res := results[i]
		if res == nil {
			continue
		}
		if res.Status != c.status || res.ExitCode != c.code || res.Stdout != c.stdout || res.Stderr != c.stderr {
			t.Errorf("%s: status %s exit %d stdout %.300q (%d bytes) stderr %q (%s)", c.name, res.Status, res.ExitCode, res.Stdout, len(res.Stdout), res.Stderr, res.Error)
		}
		// CPU time comes in the shell's 10 ms ticks: TestLimits checks it.
		if res.Usage.WallMs <= 0 {
			t.Errorf("%s: usage not reported: %+v", c.name, res.Usage)
		}
		if c.name == "files" {
			var got []string
			for _, f := range res.Files {
				got = append(got, f.Name+"="+string(f.Content))
			}
			if strings.Join(got, ",") != "out.txt=made\n,sub/x.txt=deep\n" {
				t.Errorf("collected %v", got)
			}
		}
	}
}

// TestLimits: each limit ends the run with its own status.
func TestLimits(t *testing.T) {
	b := clusterBackend(t, Options{})
	mib := sandrun.Bytes(1 << 20)
	cases := []struct {
		name   string
		req    sandrun.Request
		status sandrun.Status
	}{
		{"timeout", sandrun.Request{Language: "python", Code: "import time\nprint('started', flush=True)\ntime.sleep(60)",
			Limits: sandrun.Limits{WallTime: sandrun.Duration(2 * time.Second)}}, sandrun.StatusTimeout},
		{"memory", sandrun.Request{Language: "python", Code: "x = []\nwhile True: x.append(bytearray(8 << 20))",
			Limits: sandrun.Limits{Memory: 64 * mib}}, sandrun.StatusMemoryLimit},
		{"output", sandrun.Request{Language: "python", Code: "while True: print('y' * 1000)",
			Limits: sandrun.Limits{Output: 64 << 10}}, sandrun.StatusOutputLimit},
		{"cpu", sandrun.Request{Language: "python", Code: "while True: pass",
			Limits: sandrun.Limits{CPUTime: sandrun.Duration(time.Second), WallTime: sandrun.Duration(30 * time.Second)}}, sandrun.StatusCPULimit},
		{"file size", sandrun.Request{Language: "python", Code: "open('big', 'wb').write(b'x' * (2 << 20))",
			Limits: sandrun.Limits{FileSize: mib}}, sandrun.StatusFileSizeLimit},
		{"work dir full", sandrun.Request{Language: "bash", Code: "head -c 20971520 /dev/zero > fill || exit 7",
			Limits: sandrun.Limits{WorkDir: 4 * mib}}, sandrun.StatusExitError},
		{"processes", sandrun.Request{Language: "python", Code: "import os\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n            import time; time.sleep(30); os._exit(0)\n        n += 1\nexcept OSError as e:\n    print('fork refused after', n, e.errno)",
			Limits: sandrun.Limits{Processes: 8, WallTime: sandrun.Duration(20 * time.Second)}}, sandrun.StatusOK},
	}
	var wg sync.WaitGroup
	for i := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := cases[i]
			start := time.Now()
			res := run(t, b, &c.req)
			if res.Status != c.status {
				t.Errorf("%s: status %s (%s) stdout %.200q stderr %.300q", c.name, res.Status, res.Error, res.Stdout, res.Stderr)
			}
			switch c.name {
			case "timeout":
				if !strings.Contains(res.Stdout, "started") {
					t.Errorf("timeout: output before the kill was lost: %q", res.Stdout)
				}
				if d := time.Since(start); d > 40*time.Second {
					t.Errorf("timeout: the run took %s", d)
				}
			case "output":
				if !res.StdoutTruncated || len(res.Stdout) > 80<<10 {
					t.Errorf("output: truncated=%v len %d", res.StdoutTruncated, len(res.Stdout))
				}
			case "cpu":
				if res.Usage.CPUMs < 500 {
					t.Errorf("cpu: usage %d ms for a 1 s limit", res.Usage.CPUMs)
				}
			case "processes":
				if !strings.Contains(res.Stdout, "fork refused after") {
					t.Errorf("processes: %q", res.Stdout)
				}
			}
		}()
	}
	wg.Wait()
}

// TestPosture attacks the pod from inside: identity, capabilities,
// seccomp, the network, the service-account token, the root filesystem.
func TestPosture(t *testing.T) {
	b := clusterBackend(t, Options{})
	code := `
import os, socket, errno
def check(name, ok, detail=''):
    print(('OK ' if ok else 'BAD ') + name + ' ' + str(detail))
st = {l.split(':')[0]: l.split(':', 1)[1].strip() for l in open('/proc/self/status') if ':' in l}
check('uid', os.getuid() >= 1 << 24 and os.getuid() == os.getgid(), os.getuid())
check('caps', all(st[k] == '0000000000000000' for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb')), st['CapEff'])
check('no_new_privs', st['NoNewPrivs'] == '1')
check('seccomp', st['Seccomp'] == '2')
for fam, name in ((socket.AF_INET, 'inet'), (socket.AF_INET6, 'inet6'), (socket.AF_NETLINK, 'netlink'), (socket.AF_PACKET, 'packet')):
    try:
        socket.socket(fam, socket.SOCK_DGRAM if fam != socket.AF_NETLINK else socket.SOCK_RAW)
        check('socket ' + name, False, 'created')
    except OSError as e:
        check('socket ' + name, e.errno in (errno.EPERM, errno.EACCES), e)
socket.socketpair()
check('unix sockets', True)
check('no token', not os.path.exists('/var/run/secrets/kubernetes.io'))
try:
    open('/etc/x', 'w'); check('read-only root', False)
except OSError as e:
    check('read-only root', e.errno in (errno.EROFS, errno.EACCES), e)
open('/work/w', 'w').write('x'); open('/tmp/t', 'w').write('x')
check('work and tmp writable', True)
check('hostname', socket.gethostname() == 'sandrun', socket.gethostname())
check('no service env', not any(k.endswith('_SERVICE_HOST') for k in os.environ))
check('own pid namespace', os.getppid() == 1 or open('/proc/1/cmdline').read().startswith('/bin/sh'))
`
	res := run(t, b, &sandrun.Request{Language: "python", Code: code})
	if res.Status != sandrun.StatusOK || strings.Contains(res.Stdout, "BAD") || strings.Count(res.Stdout, "OK ") != 15 {
		t.Fatalf("status %s\n%s\n%s", res.Status, res.Stdout, res.Stderr)
	}
	if len(res.Downgrades) != 0 {
		t.Errorf("downgrades %v", res.Downgrades)
	}
}

// TestWarmPool: a run of the default shape gets a warm pod; another shape
// a cold one; the pool refills.
func TestWarmPool(t *testing.T) {
	b := clusterBackend(t, Options{Pool: map[string]int{"python": 1}})
	waitReady(t, b, "python", 1)
	res := run(t, b, &sandrun.Request{Language: "python", Code: "print('warm')"})
	if res.Status != sandrun.StatusOK || res.Stdout != "warm\n" {
		t.Fatalf("%s %q %s", res.Status, res.Stdout, res.Error)
	}
	if w, c := b.RunCounts(); w != 1 || c != 0 {
		t.Fatalf("warm %d cold %d", w, c)
	}
	res = run(t, b, &sandrun.Request{Language: "python", Code: "print('cold')", Limits: sandrun.Limits{Memory: 100 << 20}})
	if res.Status != sandrun.StatusOK {
		t.Fatalf("%s %s", res.Status, res.Error)
	}
	if w, c := b.RunCounts(); w != 1 || c != 1 {
		t.Fatalf("warm %d cold %d", w, c)
	}
	waitReady(t, b, "python", 1) // refilled
	// A warm pod's deadline is cut to the run's on claim.
	res = run(t, b, &sandrun.Request{Language: "python", Code: "import time; time.sleep(30)", Limits: sandrun.Limits{WallTime: sandrun.Duration(time.Second)}})
	if res.Status != sandrun.StatusTimeout {
		t.Fatalf("%s %s", res.Status, res.Error)
	}
}

func waitReady(t testing.TB, b *Backend, language string, n int) {
	t.Helper()
	end := time.Now().Add(2 * time.Minute)
	for b.ReadyWarm(language) < n {
		if time.Now().After(end) {
			t.Fatalf("the pool has %d ready %s pods after 2m (%v)", b.ReadyWarm(language), language, b.Check(context.Background(), language))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestOwnership: what the tier creates carries its labels and owner
// reference; Close deletes it; a later supervisor sweeps what a dead one
// left.
func TestOwnership(t *testing.T) {
	b := clusterBackend(t, Options{Pool: map[string]int{"bash": 1}})
	waitReady(t, b, "bash", 1)
	st, _ := b.state(t.Context())
	pods, err := st.api.listPods(t.Context(), labelOwner+"="+b.ownerID)
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("pods %v %v", pods, err)
	}
	p := pods.Items[0]
	if p.Labels[labelManagedBy] != managedBy || len(p.OwnerReferences) != 1 || p.OwnerReferences[0].UID != st.owner.uid {
		t.Fatalf("pod labels %v owners %v", p.Labels, p.OwnerReferences)
	}
	if err := st.api.netw.Get().Namespace(st.api.ns).Resource("networkpolicies").Name("sandrun-deny-" + b.ownerID).Do(t.Context()).Error(); err != nil {
		t.Fatalf("deny-all policy: %v", err)
	}

	// A supervisor that died (this host, a pid that is gone) left its
	// owner and a pod; the next one to start sweeps both.
	dead := New(Options{Kubeconfig: b.opts.Kubeconfig, Namespace: testNamespace})
	dead.holder = strings.SplitN(dead.holder, ":", 2)[0] + ":999999999"
	dst, err := dead.state(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dst.api.createPod(t.Context(), dead.podSpec(dst, dead.podName(), dead.shapeFor(&sandrun.Request{Language: "bash",
		Limits: sandrun.Limits{}.WithDefaults()}), 600, false)); err != nil {
		t.Fatal(err)
	}
	dst.cancel() // it "dies": no Close, no heartbeat
	dst.done.Wait()
	later := clusterBackend(t, Options{})
	if err := later.Check(t.Context(), "bash"); err != nil {
		t.Fatal(err)
	}
	left, _ := st.api.listPods(t.Context(), labelOwner+"="+dead.ownerID)
	cms, _ := st.api.listConfigMaps(t.Context(), labelOwner+"="+dead.ownerID)
	if len(cms.Items) != 0 {
		t.Fatalf("the dead supervisor's owner survived the sweep")
	}
	for _, p := range left.Items {
		if p.DeletionTimestamp == nil {
			t.Fatalf("the dead supervisor's pod %s survived the sweep", p.Name)
		}
	}
	// The live supervisor's objects were not touched.
	if l, _ := st.api.listConfigMaps(t.Context(), labelOwner+"="+b.ownerID); len(l.Items) != 1 {
		t.Fatal("the sweep deleted a live supervisor's owner")
	}

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(time.Minute)
	for {
		pods, _ := st.api.listPods(context.Background(), labelOwner+"="+b.ownerID)
		cms, _ := st.api.listConfigMaps(context.Background(), labelOwner+"="+b.ownerID)
		if len(pods.Items) == 0 && len(cms.Items) == 0 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("after Close: %d pods, %d config maps left", len(pods.Items), len(cms.Items))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestConcurrentRuns: runs at once each see only their own work dir.
func TestConcurrentRuns(t *testing.T) {
	b := clusterBackend(t, Options{Pool: map[string]int{"python": 2}})
	const n = 8
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := fmt.Sprintf("token-%d-%s", i, randomHex(4))
			res := run(t, b, &sandrun.Request{Language: "python", Env: map[string]string{"TOK": tok},
				Code: "import os, time\nopen('mine', 'w').write(os.environ['TOK'])\ntime.sleep(1)\nprint(open('mine').read(), sorted(os.listdir('.')))"})
			if res.Status != sandrun.StatusOK || res.Stdout != tok+" ['main.py', 'mine']\n" {
				t.Errorf("run %d: %s %q %s", i, res.Status, res.Stdout, res.Error)
			}
		}()
	}
	wg.Wait()
}
