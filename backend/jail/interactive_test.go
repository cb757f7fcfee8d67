//go:build linux

package jail_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/internal/interactivetest"
	"github.com/sandrun/sandrun/lang"
)

// TestInteractive: Request.Input reaches the jailed program as it comes,
// and Request.Signals reach it through the init.
func TestInteractive(t *testing.T) {
	b := backend(t)
	sb, err := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{b}})
	if err != nil {
		t.Fatal(err)
	}
	interactivetest.Check(t, func(t *testing.T, req *sandrun.Request) *sandrun.Result {
		res, err := sb.Run(context.Background(), req)
		if err != nil {
			t.Fatalf("Run: %v (%s)", err, res.Error)
		}
		return res
	})
}

// TestInteractiveSkipsTheWarmPath: a zygote's child gets its input whole,
// so an interactive run of a language with a warm path runs cold and
// still reads its input as it comes.
func TestInteractiveSkipsTheWarmPath(t *testing.T) {
	backend(t) // skips where there is no jail
	b, err := jail.New(jail.Options{Languages: lang.NewRegistry(lang.Options{}), Warm: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := b.WarmReady(ctx, "python"); err != nil {
		skip(t, "no python zygote here: %v", err)
	}
	sb, err := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{b}})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	defer pr.Close()
	go func() {
		_, _ = pw.Write([]byte("late\n"))
		pw.Close()
	}()
	req := &sandrun.Request{Language: "python", Code: "print('got', input())", Input: pr}
	req.Limits.WallTime = sandrun.Duration(time.Minute)
	res, err := sb.Run(context.Background(), req)
	if err != nil || res.Stdout != "got late\n" {
		t.Fatalf("err %v status %s stdout %q stderr %q", err, res.Status, res.Stdout, res.Stderr)
	}
	if st := b.WarmStats(); st.Forked != 0 {
		t.Fatalf("an interactive run took the warm path: %+v", st)
	}
}
