//go:build linux

package process_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/process"
	"github.com/sandrun/sandrun/lang"
)

func launcher(t *testing.T) *process.Backend {
	t.Helper()
	b, err := process.New(process.Options{Languages: lang.NewRegistry(lang.Options{}), BaseDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A line-echo python: each input line is answered with its own result,
// so the test drives it step by step.
const echo = `import sys, os, resource
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "cwd":
        print(os.getcwd(), flush=True)
    elif cmd == "as":
        print(resource.getrlimit(resource.RLIMIT_AS)[0], flush=True)
    elif cmd == "env":
        print(os.environ.get("GREETING"), open("in.txt").read(), flush=True)
`

func TestLaunch(t *testing.T) {
	b := launcher(t)
	p, err := b.Launch(context.Background(), &sandrun.LaunchSpec{
		Language: "python", Args: []string{"-u", "-c", echo},
		Env: map[string]string{"GREETING": "hi"}, Files: []sandrun.InputFile{{Name: "in.txt", Content: "file"}},
		Limits: sandrun.Limits{Memory: 512 << 20, WallTime: sandrun.Duration(time.Minute)}.WithDefaults(),
	})
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, p.Stderr())
	out := bufio.NewReader(p.Stdout())
	ask := func(q string) string {
		t.Helper()
		fmt.Fprintln(p.Stdin(), q)
		l, err := out.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return strings.TrimSpace(l)
	}
	if got := ask("env"); got != "hi file" {
		t.Fatalf("env: %q", got)
	}
	dir := p.WorkDir()
	if got := ask("cwd"); got != dir {
		t.Fatalf("cwd %q, work dir %q", got, dir)
	}
	if got := ask("as"); got != fmt.Sprint(512<<20) {
		t.Fatalf("RLIMIT_AS at launch: %s", got)
	}
	if err := p.SetLimits(sandrun.Limits{Memory: 128 << 20, WallTime: sandrun.Duration(time.Minute)}.WithDefaults()); err != nil {
		t.Fatal(err)
	}
	if got := ask("as"); got != fmt.Sprint(128<<20) {
		t.Fatalf("RLIMIT_AS after SetLimits: %s", got)
	}
	// SetLimits only tightens.
	if err := p.SetLimits(sandrun.Limits{Memory: 1 << 30}.WithDefaults()); err != nil {
		t.Fatal(err)
	}
	if got := ask("as"); got != fmt.Sprint(128<<20) {
		t.Fatalf("SetLimits loosened RLIMIT_AS: %s", got)
	}
	if err := p.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	ex, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if ex.Status == sandrun.StatusOK {
		t.Fatalf("SIGINT did not end the echo: %+v", ex)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("work dir left after Wait: %v", err)
	}
}

func TestLaunchLifetime(t *testing.T) {
	b := launcher(t)
	p, err := b.Launch(context.Background(), &sandrun.LaunchSpec{
		Language: "python", Args: []string{"-c", "import time; time.sleep(60)"},
		Limits: sandrun.Limits{WallTime: sandrun.Duration(300 * time.Millisecond)}.WithDefaults(),
	})
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, p.Stderr())
	go io.Copy(io.Discard, p.Stdout())
	ex, err := p.Wait()
	if err != nil || ex.Status != sandrun.StatusTimeout {
		t.Fatalf("lifetime: %v %+v", err, ex)
	}
	// Kill of a live process is reported as the supervisor's, not as the
	// program's own failure.
	p, err = b.Launch(context.Background(), &sandrun.LaunchSpec{Language: "python", Args: []string{"-c", "import time; time.sleep(60)"}, Limits: sandrun.DefaultLimits()})
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, p.Stderr())
	go io.Copy(io.Discard, p.Stdout())
	_ = p.Kill()
	if ex, _ := p.Wait(); ex.Signal != "SIGKILL" {
		t.Fatalf("kill: %+v", ex)
	}
}
