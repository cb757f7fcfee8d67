//go:build linux

package jail_test

import (
	"context"
	"log/slog"
	"os"
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
