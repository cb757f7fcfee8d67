//go:build linux

package jail_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/lang"
)

var (
	warmShared     *jail.Backend
	warmSharedErr  error
	warmSharedOnce sync.Once
)

// warmBackend is a jail with the warm path on and its python zygote
// ready, shared by the package's tests.
func warmBackend(t testing.TB) *jail.Backend {
	t.Helper()
	backend(t) // skips where there is no jail
	warmSharedOnce.Do(func() {
		warmShared, warmSharedErr = jail.New(jail.Options{Languages: lang.NewRegistry(lang.Options{}), Warm: 8, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
		if warmSharedErr == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			warmSharedErr = warmShared.WarmReady(ctx, "python")
		}
	})
	if warmSharedErr != nil {
		t.Fatal(warmSharedErr)
	}
	return warmShared
}

// runWarm runs code and checks that a zygote's child served it.
func runWarm(t testing.TB, code string, mod ...func(*sandrun.Request)) *sandrun.Result {
	t.Helper()
	b := warmBackend(t)
	before := b.WarmStats().Forked
	res := run(t, b, "python", code, mod...)
	if b.WarmStats().Forked == before {
		t.Fatalf("the run was not served warm: %+v", b.WarmStats())
	}
	return res
}

func TestWarmHello(t *testing.T) {
	res := runWarm(t, "print(1)")
	if res.Status != sandrun.StatusOK || res.Stdout != "1\n" {
		t.Fatalf("status %s stdout %q stderr %q err %s", res.Status, res.Stdout, res.Stderr, res.Error)
	}
	t.Logf("%+v", res.Usage)
}

// TestPostureWarm: a zygote's child passes the cold jail's posture check.
func TestPostureWarm(t *testing.T) {
	b := warmBackend(t)
	before := b.WarmStats().Forked
	checkPosture(t, b)
	if b.WarmStats().Forked == before {
		t.Fatalf("the probe did not run warm: %+v", b.WarmStats())
	}
}

// TestWarmNoDataFromEarlierRuns: a child starts with nothing of earlier
// runs, in its memory (the zygote never holds a run's data: each child
// reads its own config from its own socket) or in /work and /tmp.
func TestWarmNoDataFromEarlierRuns(t *testing.T) {
	secret := fmt.Sprintf("ZYGLEAK-%016x", rand.Uint64())
	first := runWarm(t, "import os\nopen('/work/left.txt', 'w').write(os.environ['S'])\nopen('/tmp/left.txt', 'w').write(input())\nprint(len(os.environ['S']))",
		func(r *sandrun.Request) {
			r.Env = map[string]string{"S": secret}
			r.Stdin = secret + "\n"
			r.Files = []sandrun.InputFile{{Name: "secret.txt", Content: secret}}
			r.Code += "\n# " + secret + "\n"
		})
	if first.Status != sandrun.StatusOK {
		t.Fatalf("first run: %s %s %q", first.Status, first.Error, first.Stderr)
	}
	// The scanner's own pattern is never the prefix followed by 16 hex
	// digits, so any match is another run's data.
	scan := `import os, re
pat = re.compile(rb"ZYGLEAK-[0-9a-f]{16}")
found, regions = set(), 0
with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
    for line in maps:
        f = line.split()
        if f[1][0] != "r" or (len(f) > 5 and f[5] in ("[vvar]", "[vsyscall]")):
            continue
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        try:
            mem.seek(lo)
            data = mem.read(hi - lo)
        except OSError:
            continue
        regions += 1
        found.update(m.group().decode() for m in pat.finditer(data))
print(regions > 10, sorted(found), os.listdir("/work"), os.listdir("/tmp"))
`
	for i := 0; i < 2; i++ {
		// The scanner's own canary, in its environment, proves the scan
		// sees the process's memory.
		own := fmt.Sprintf("ZYGLEAK-%016x", rand.Uint64())
		res := runWarm(t, scan, func(r *sandrun.Request) { r.Env = map[string]string{"C": own} })
		if res.Status != sandrun.StatusOK {
			t.Fatalf("scan: %s %s %q", res.Status, res.Error, res.Stderr)
		}
		t.Logf("scan %d: %s %+v", i, strings.TrimSpace(res.Stdout), res.Usage)
		if got, want := strings.TrimSpace(res.Stdout), "True ['"+own+"'] ['main.py'] []"; got != want {
			t.Fatalf("a later run sees an earlier run's data (%s): got %s, want %s", secret, got, want)
		}
	}
}

// TestLimitsWarm: the limit cases end with the same statuses in a
// zygote's child (the python ones; the warm path forks python only).
func TestLimitsWarm(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs limit cases in the jail")
	}
	b := warmBackend(t)
	before := b.WarmStats()
	checkLimits(t, b, "python")
	after := b.WarmStats()
	if after.Fallbacks != before.Fallbacks || after.Forked == before.Forked {
		t.Fatalf("some limit cases ran cold: before %+v, after %+v", before, after)
	}
}

// TestCollectWarm: files are collected from a child's /work, symlinks
// never followed.
func TestCollectWarm(t *testing.T) {
	res := runWarm(t, "import os\nos.makedirs('out', exist_ok=True)\nopen('out/a.txt','w').write(open('in.txt').read().upper())\nos.symlink('/etc/passwd', 'out/link.txt')",
		func(r *sandrun.Request) {
			r.Files = []sandrun.InputFile{{Name: "in.txt", Content: "hello"}}
			r.Collect = []string{"out/*"}
		})
	if res.Status != sandrun.StatusOK {
		t.Fatalf("%s %s %s", res.Status, res.Error, res.Stderr)
	}
	if len(res.Files) != 1 || res.Files[0].Name != "out/a.txt" || string(res.Files[0].Content) != "HELLO" {
		t.Fatalf("files = %+v (want only out/a.txt; symlinks are never followed)", res.Files)
	}
}

// newWarm is a jail of its own with the warm path on (size slots) and its
// python zygote ready.
func newWarm(t *testing.T, size int) *jail.Backend {
	t.Helper()
	backend(t)
	b, err := jail.New(jail.Options{Languages: lang.NewRegistry(lang.Options{}), Warm: size})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := b.WarmReady(ctx, "python"); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWarmConcurrentUIDs: concurrent children each have a uid of their
// own (the zygote's range, one per slot), and none is the zygote's.
func TestWarmConcurrentUIDs(t *testing.T) {
	b := warmBackend(t)
	const n = 6
	maps := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := run(t, b, "python", "import time; m = open('/proc/self/uid_map').read().split(); time.sleep(0.5); print(m[1])")
			if res.Status != sandrun.StatusOK {
				t.Errorf("run %d: %s %s %q", i, res.Status, res.Error, res.Stderr)
			}
			maps[i] = strings.TrimSpace(res.Stdout)
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, m := range maps {
		if m == "" || m == "1000" || seen[m] {
			t.Fatalf("uids of concurrent runs in the zygote's namespace: %v (want distinct, none the zygote's 1000)", maps)
		}
		seen[m] = true
	}
}

// TestWarmBusyRunsCold: with every slot taken, a run runs cold, and
// works.
func TestWarmBusyRunsCold(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: many jailed runs or zygote starts")
	}
	b := newWarm(t, 1)
	done := make(chan *sandrun.Result)
	go func() { done <- run(t, b, "python", "import time; time.sleep(1.5); print('slow')") }()
	deadline := time.Now().Add(time.Minute)
	for b.WarmStats().Ready["python"] != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the slow run never took the slot")
		}
		time.Sleep(5 * time.Millisecond)
	}
	before, busy := b.WarmStats(), b.WarmStatus()["python"].Cold["busy"]
	res := run(t, b, "python", "print('fast')")
	if res.Status != sandrun.StatusOK || res.Stdout != "fast\n" {
		t.Fatalf("%s %s %q", res.Status, res.Error, res.Stderr)
	}
	if b.WarmStats().Fallbacks != before.Fallbacks+1 || b.WarmStatus()["python"].Cold["busy"] != busy+1 {
		t.Fatalf("the second run did not run cold for want of a slot: %+v -> %+v, %+v", before, b.WarmStats(), b.WarmStatus())
	}
	if slow := <-done; slow.Status != sandrun.StatusOK || slow.Stdout != "slow\n" {
		t.Fatalf("slow run: %s %s %q", slow.Status, slow.Error, slow.Stderr)
	}
}

// TestWarmZygoteDeath: a zygote that dies fails no run: runs in flight
// finish, new runs run cold until another zygote is ready, then warm.
func TestWarmZygoteDeath(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: many jailed runs or zygote starts")
	}
	b := newWarm(t, 4)
	inflight := make(chan *sandrun.Result)
	go func() { inflight <- runWarm2(t, b, "import time; time.sleep(1); print('survived')") }()
	deadline := time.Now().Add(time.Minute)
	for b.WarmStats().Ready["python"] == 4 {
		if time.Now().After(deadline) {
			t.Fatal("the run never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if !jail.KillZygote(b, "python") {
		t.Fatal("no zygote to kill")
	}
	for i := 0; i < 3; i++ {
		if res := run(t, b, "python", "print('after')"); res.Status != sandrun.StatusOK || res.Stdout != "after\n" {
			t.Fatalf("a run after the zygote died: %s %s %q", res.Status, res.Error, res.Stderr)
		}
	}
	if res := <-inflight; res.Status != sandrun.StatusOK || res.Stdout != "survived\n" {
		t.Fatalf("the run in flight: %s %s %q", res.Status, res.Error, res.Stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := b.WarmReady(ctx, "python"); err != nil {
		t.Fatal(err)
	}
	if st := b.WarmStats(); st.Restarts == 0 || b.WarmStatus()["python"].Restarts == 0 {
		t.Fatalf("no zygote was restarted: %+v %+v", st, b.WarmStatus())
	}
	if res := runWarm2(t, b, "print('warm again')"); res.Status != sandrun.StatusOK {
		t.Fatalf("%s %s", res.Status, res.Error)
	}
}

// runWarm2 is runWarm on a backend of the test's own.
func runWarm2(t testing.TB, b *jail.Backend, code string) *sandrun.Result {
	t.Helper()
	before := b.WarmStats().Forked
	res := run(t, b, "python", code)
	if b.WarmStats().Forked == before {
		t.Errorf("the run was not served warm: %+v", b.WarmStats())
	}
	return res
}

// TestWarmFailsClosed: a child that cannot get a layer does not run the
// program; the error names the layer.
func TestWarmFailsClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: many jailed runs or zygote starts")
	}
	for _, layer := range []string{"capabilities", "seccomp", "landlock", "tmpfs"} {
		t.Run(layer, func(t *testing.T) {
			b := newWarm(t, 2)
			jail.BreakWarmLayer(b, layer)
			req := &sandrun.Request{Language: "python", Code: "open('/tmp/ran', 'w'); print('RAN')"}
			req.Limits = req.Limits.WithDefaults()
			res, err := b.Run(context.Background(), req)
			var se *jail.SetupError
			if !errors.As(err, &se) || se.Layer.String() != layer {
				t.Fatalf("err = %v (%T), result %+v; want a SetupError naming %s", err, err, res, layer)
			}
			t.Logf("%v", err)
		})
	}
}

// TestWarmStatusJail: per fork language the jail says how many child
// slots its ready zygote has free and what became of each run: served
// by a child, or cold and why (here: a request that sets the locale).
func TestWarmStatusJail(t *testing.T) {
	b := warmBackend(t)
	before := b.WarmStatus()["python"]
	if before.Kind != sandrun.WarmZygote || before.Tier != jail.Name {
		t.Fatalf("python's warm path: %+v", before)
	}
	runWarm(t, "print(1)")
	res := run(t, b, "python", "print(2)", func(r *sandrun.Request) { r.Env = map[string]string{"LANG": "C.UTF-8"} })
	if res.Status != sandrun.StatusOK {
		t.Fatalf("%s %q", res.Status, res.Error)
	}
	after := b.WarmStatus()["python"]
	if after.Warm != before.Warm+1 || after.Cold["locale"] != before.Cold["locale"]+1 || after.Ready < 1 {
		t.Fatalf("after a warm run and one with LANG set: %+v -> %+v", before, after)
	}
}
