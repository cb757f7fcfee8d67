//go:build linux

package jail_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/internal/testenv"
	"github.com/sandrun/sandrun/lang"
)

// TestConcurrentUIDs: runs at the same time get distinct host uids and
// their own output.
func TestConcurrentUIDs(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	b := backend(t)
	const n = 12
	// The wall limit is not under test: scaled to the host's load, twelve
	// interpreters starting at once must not time out on a busy host.
	wall := sandrun.Duration(testenv.Scale(t, 20*time.Second))
	var wg sync.WaitGroup
	outs := make([]*sandrun.Result, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// No t.Fatal here: it must be called from the test's goroutine.
			req := &sandrun.Request{Language: "python", Code: fmt.Sprintf("import time\ntime.sleep(0.5)\nprint(%d, open('/proc/self/uid_map').read().split()[1])", i)}
			req.Limits.WallTime = wall
			req.Limits = req.Limits.WithDefaults()
			outs[i], errs[i] = b.Run(context.Background(), req)
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	seen := map[string]int{}
	for i, r := range outs {
		var got int
		var host string
		if _, err := fmt.Sscan(r.Stdout, &got, &host); err != nil || got != i || r.Status != sandrun.StatusOK {
			t.Fatalf("run %d: %s %q %q", i, r.Status, r.Stdout, r.Stderr)
		}
		if j, dup := seen[host]; dup {
			t.Errorf("runs %d and %d shared host uid %s", j, i, host)
		}
		seen[host] = i
	}
	checkNoLeftovers(t)
}

// TestNoChannelBetweenJails: one jail listens on an abstract unix
// socket; another, at the same time, must neither reach it (its own
// network namespace, and Landlock's scoping) nor see its name in
// /proc/net/unix (its own network namespace).
func TestNoChannelBetweenJails(t *testing.T) {
	backend(t)
	// Namespaces made ahead of time (the default), and one made by each
	// clone (one-shot commands, rootless).
	for _, pool := range []int{0, -1} {
		t.Run(fmt.Sprintf("netpool=%d", pool), func(t *testing.T) {
			b, err := jail.New(jail.Options{Languages: lang.NewRegistry(lang.Options{}), NetPool: pool})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			noChannel(t, b)
		})
	}
}

func noChannel(t *testing.T, b *jail.Backend) {
	ctx := context.Background()
	a, err := b.Launch(ctx, &sandrun.LaunchSpec{Language: "python", Args: []string{"-u", "-c", `
import socket, os, time
s = socket.socket(socket.AF_UNIX)
s.bind("\0sandrun-cross-jail")
s.listen(1)
print(os.getpid(), flush=True)
time.sleep(30)
`}, Limits: sandrun.DefaultLimits()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { a.Kill(); a.Wait() }()
	var pid int
	if _, err := fmt.Fscan(a.Stdout(), &pid); err != nil {
		t.Fatal(err)
	}
	res := run(t, b, "python", `
import socket, os
u = socket.socket(socket.AF_UNIX)
try:
    u.connect("\0sandrun-cross-jail"); print("connected")
except OSError as e:
    print("refused", e.errno)
print("listed" if "@sandrun-cross-jail" in open("/proc/net/unix").read() else "unlisted")
`)
	if res.Status != sandrun.StatusOK || !strings.HasPrefix(res.Stdout, "refused") || !strings.HasSuffix(res.Stdout, "unlisted\n") {
		t.Fatalf("second jail reached the first: %s %q %q", res.Status, res.Stdout, res.Stderr)
	}
	t.Logf("cross-jail abstract connect: %s", strings.TrimSpace(res.Stdout))
}

// TestPrestart: runs served from prestarted inits behave like cold ones,
// each with its own uid, and Close leaves nothing behind.
func TestPrestart(t *testing.T) {
	backend(t)
	b, err := jail.New(jail.Options{Languages: lang.NewRegistry(lang.Options{}), Prestart: 2})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // let the pool fill
	seen := map[string]bool{}
	for i := 0; i < 4; i++ {
		res := run(t, b, "python", "print(open('/proc/self/uid_map').read().split()[1])",
			withLimits(func(l *sandrun.Limits) { l.WallTime = sandrun.Duration(time.Minute) }))
		if res.Status != sandrun.StatusOK {
			t.Fatalf("run %d: %s %s %q", i, res.Status, res.Error, res.Stderr)
		}
		t.Logf("run %d: %+v", i, res.Usage)
		seen[res.Stdout] = true
	}
	b.Close()
	if os.Geteuid() == 0 && len(seen) < 2 {
		t.Errorf("prestarted runs reused one host uid: %v", seen)
	}
	checkNoLeftovers(t)
}

// TestInitSurvivesThreadExits: code elsewhere in the supervisor that ends
// goroutines locked to their threads (destroying those threads, as the
// process tier does) must not kill a jail: the init's PDEATHSIG follows
// the thread that forked it, which must not be one the runtime shares.
// Prestarted inits wait longest, so the check uses them.
func TestInitSurvivesThreadExits(t *testing.T) {
	backend(t)
	b, err := jail.New(jail.Options{Languages: lang.NewRegistry(lang.Options{}), Prestart: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	killThreads := func() {
		var wg sync.WaitGroup
		for i := 0; i < 200; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread() // never unlocked: the thread dies
			}()
		}
		wg.Wait()
	}
	for i := 0; i < 4; i++ {
		time.Sleep(200 * time.Millisecond) // the pool refills
		killThreads()
		res := run(t, b, "python", "print('alive')")
		if res.Status != sandrun.StatusOK || res.Stdout != "alive\n" {
			t.Fatalf("run %d after threads died: %s %q %q", i, res.Status, res.Stdout, res.Error)
		}
	}
}

// TestZygoteSurvivesThreadExits: the same for the warm path. The zygote's
// init was cloned with PDEATHSIG on whatever thread the keeper goroutine
// ran on; when a goroutine that ended locked destroyed that thread, the
// zygote jail died (and every run in it). Its thread is now its own,
// held until the zygote's init ends. Threads die from before the zygote
// starts until well after it is ready, as in a supervisor that also runs
// the process tier.
func TestZygoteSurvivesThreadExits(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: a zygote of its own")
	}
	backend(t)
	stop := make(chan struct{})
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for {
			select {
			case <-stop:
				return
			default:
			}
			var wg sync.WaitGroup
			for i := 0; i < 50; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					runtime.LockOSThread() // never unlocked: the thread dies
				}()
			}
			wg.Wait()
			time.Sleep(time.Millisecond)
		}
	}()
	defer func() { close(stop); <-killed }()
	b := newWarm(t, 2)
	for i := 0; i < 10; i++ {
		time.Sleep(200 * time.Millisecond)
		if res := run(t, b, "python", "print('alive')"); res.Status != sandrun.StatusOK || res.Stdout != "alive\n" {
			t.Fatalf("run %d while threads die: %s %q %q", i, res.Status, res.Stdout, res.Error)
		}
	}
	if st := b.WarmStats(); st.Restarts != 0 || st.Forked == 0 {
		t.Fatalf("the zygote died with a thread and was replaced, or served nothing: %+v", st)
	}
}
