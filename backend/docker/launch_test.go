package docker_test

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/testenv"
	"github.com/sandrun/sandrun/session"
)

// readLine reads one line from r, failing the test if neither a line nor
// the end of the stream comes within a bound scaled to the host's load:
// a Launcher must never leave its caller blocked.
func readLine(t *testing.T, r io.Reader) (string, error) {
	t.Helper()
	type read struct {
		line string
		err  error
	}
	got := make(chan read, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		got <- read{line, err}
	}()
	select {
	case r := <-got:
		return r.line, r.err
	case <-time.After(testenv.Scale(t, 60*time.Second)):
		t.Fatal("no line and no end of stream from the launched container: the launcher hangs")
		return "", nil
	}
}

// TestLaunch drives a long-lived python through its streams: a line in, a
// line out, then exit on EOF, and a second one killed. The program writes
// to stderr first and the test never reads stderr: the engine multiplexes
// both streams on one connection, and an unread stderr once stalled stdout
// for good (the hang that kept docker away from sessions: GNU tar's
// "time stamp in the future" warning on stderr, then no answer).
func TestLaunch(t *testing.T) {
	b := need(t, "python")
	ctx := context.Background()
	l, err := b.Launch(ctx, &sandrun.LaunchSpec{Language: "python",
		Args: []string{"-u", "-c", "import sys\nsys.stderr.write('warning ' * 100 + '\\n')\nsys.stderr.flush()\n" +
			"for line in sys.stdin: print('got', line.strip(), open('f.txt').read())"},
		Files: []sandrun.InputFile{{Name: "f.txt", Content: "F"}}, Limits: sandrun.DefaultLimits()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Stdin().Write([]byte("one\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := readLine(t, l.Stdout()); err != nil || line != "got one F\n" {
		ex, werr := l.Wait()
		t.Fatalf("read %q %v; exit %+v %v", line, err, ex, werr)
	}
	if err := l.SetLimits(sandrun.Limits{Memory: 128 << 20, Processes: 8}.WithDefaults()); err != nil {
		t.Fatal(err)
	}
	l.Stdin().(interface{ Close() error }).Close()
	ex, err := l.Wait()
	if err != nil || ex.Status != sandrun.StatusOK {
		t.Fatalf("exit %+v %v", ex, err)
	}

	l2, err := b.Launch(ctx, &sandrun.LaunchSpec{Language: "bash", Args: []string{"-c", "sleep 60"}, Limits: sandrun.DefaultLimits()})
	if err != nil {
		t.Fatal(err)
	}
	go func() { io.Copy(io.Discard, l2.Stdout()) }()
	if err := l2.Kill(); err != nil {
		t.Fatal(err)
	}
	ex, err = l2.Wait()
	if err != nil || ex.Status == sandrun.StatusOK {
		t.Fatalf("killed launch: %+v %v", ex, err)
	}
}

// A container that fills one stream nobody reads and dies: Wait returns
// and a reader of the other stream gets EOF, within a bound.
func TestLaunchEndsWithUnreadOutput(t *testing.T) {
	b := need(t, "bash")
	l, err := b.Launch(context.Background(), &sandrun.LaunchSpec{Language: "bash",
		Args: []string{"-c", "head -c 300000 /dev/zero >&2; echo last; exit 3"}, Limits: sandrun.DefaultLimits()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var ex *sandrun.LaunchExit
	var werr error
	go func() { ex, werr = l.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(testenv.Scale(t, 60*time.Second)):
		t.Fatal("Wait did not return for a container that died with unread output")
	}
	if werr != nil || ex.Status != sandrun.StatusExitError || ex.ExitCode != 3 {
		t.Fatalf("exit %+v %v", ex, werr)
	}
	// stdout ends (what it got before the end, then EOF), never blocks.
	line, err := readLine(t, l.Stdout())
	if err == nil && line != "last\n" {
		t.Fatalf("stdout %q", line)
	}
}

// Docker hosts sessions: the session manager drives python through the
// docker Launcher step by step, state kept, stderr and stdout apart.
func TestLaunchSession(t *testing.T) {
	b := need(t, "python")
	sb, err := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{b}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := session.New(session.Options{
		Sandbox:      sb,
		Launchers:    map[string]sandrun.Launcher{"docker": b},
		Grace:        time.Second,
		ReadyTimeout: testenv.Scale(t, time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown()
	ctx := context.Background()
	in, err := m.Create(ctx, session.Spec{Language: "python", Backend: "docker"})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct{ code, stdout, stderr string }{
		{"x = 41", "", ""},
		{"import sys\nsys.stderr.write('warn\\n')\nprint(x + 1)", "42\n", "warn\n"},
		{"open('kept.txt', 'w').write('k')", "", ""},
		{"print(open('kept.txt').read(), x)", "k 41\n", ""},
	} {
		res, err := m.Run(ctx, in.ID, session.RunRequest{Code: step.code})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != sandrun.StatusOK || res.Stdout != step.stdout || !strings.Contains(res.Stderr, step.stderr) {
			t.Fatalf("step %q: %s stdout %q stderr %q error %q", step.code, res.Status, res.Stdout, res.Stderr, res.Error)
		}
	}
	if got, err := m.Get(in.ID); err != nil || got.Backend != "docker" {
		t.Fatalf("session %+v %v", got, err)
	}
}
