//go:build linux

package jail_test

import (
	"context"
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
