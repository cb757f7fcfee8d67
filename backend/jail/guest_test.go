//go:build linux

package jail_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/internal/guest"
	"github.com/sandrun/sandrun/lang"
)

// echoGuest runs the config's code as plain python with full built-ins
// (no language policy: the jail alone is tested), then says "bye" on the
// channel and ends with the code's exit status. Its warm-up (prepare)
// records the pid it ran in, for the code to see as PREPARED.
const echoGuest = `
import os as _os, sys as _sys, json as _json

PREPARED = []

def prepare():
    PREPARED.append(_os.getpid())

def broken_prepare():
    raise RuntimeError("no warm-up")

def busy_prepare():
    import time
    t = time.process_time()
    while time.process_time() - t < 0.3:
        pass

def main(cfg, fd):
    status = 0
    try:
        exec(cfg["code"], {"__name__": "__main__", "CHANNEL": fd, "PREPARED": PREPARED})
    except SystemExit as e:
        status = e.code or 0
    except BaseException as e:
        print("%s: %s" % (type(e).__name__, e), file=_sys.stderr)
        status = 1
    _sys.stdout.flush()
    _sys.stderr.flush()
    try:
        _os.write(fd, b"bye")
    except OSError:
        pass
    _os._exit(status)
`

// guestBackend is a jail with the echo guest, ready; closed with the
// test (its children forked ahead hold cgroups, which the package's
// leftover checks look for).
func guestBackend(t testing.TB) *jail.Backend {
	return guestBackendPrepared(t, "sandrun_echo_guest.prepare")
}

// guestBackendPrepared is guestBackend with the echo guest's warm-up
// named by prepare.
func guestBackendPrepared(t testing.TB, prepare string) *jail.Backend {
	t.Helper()
	backend(t) // skips where there is no jail
	b, err := jail.New(jail.Options{
		Languages: lang.NewRegistry(lang.Options{}),
		Guests: []guest.Spec{{Name: "echo", Language: "python", Modules: []guest.Module{{Name: "sandrun_echo_guest", Source: echoGuest}},
			Entry: "sandrun_echo_guest.main", Prepare: prepare}},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: guestLogLevel()})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.CheckGuest(context.Background(), "echo"); err != nil {
		skip(t, "guests unavailable: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := b.GuestReady(ctx, "echo"); err != nil {
		t.Fatal(err)
	}
	return b
}

func runGuest(t testing.TB, b *jail.Backend, code string, lim sandrun.Limits) (*sandrun.Result, string) {
	t.Helper()
	res, ch, err := tryGuest(b, code, lim)
	if err != nil {
		t.Fatal(err)
	}
	return res, ch
}

func tryGuest(b *jail.Backend, code string, lim sandrun.Limits) (*sandrun.Result, string, error) {
	cfg, _ := json.Marshal(map[string]string{"code": code})
	var got strings.Builder
	var mu sync.Mutex
	res, err := b.RunGuest(context.Background(), &sandrun.Request{Language: "python", Limits: lim.WithDefaults()}, &guest.Run{
		Guest: "echo", Config: cfg,
		Serve: func(c io.ReadWriter) {
			b, _ := io.ReadAll(io.LimitReader(c, 1<<20))
			mu.Lock()
			got.Write(b)
			mu.Unlock()
		},
		// The test's guests report their run over with "report", last.
		Over: func() bool {
			mu.Lock()
			defer mu.Unlock()
			return strings.HasSuffix(got.String(), "report")
		},
	})
	mu.Lock()
	defer mu.Unlock()
	return res, got.String(), err
}

func TestGuestHello(t *testing.T) {
	res, ch := runGuest(t, guestBackend(t), "print('hello', 6 * 7)", sandrun.Limits{})
	if res.Status != sandrun.StatusOK || res.Stdout != "hello 42\n" || ch != "bye" {
		t.Fatalf("status %s stdout %q stderr %q channel %q err %s", res.Status, res.Stdout, res.Stderr, ch, res.Error)
	}
}

// TestGuestWarmStatus: a guest is in the jail's warm status under its
// name: its children forked ahead (ready), and a run that took one counted
// warm.
func TestGuestWarmStatus(t *testing.T) {
	b := guestBackend(t)
	deadline := time.Now().Add(30 * time.Second)
	for b.WarmStatus()["echo"].Ready < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	before := b.WarmStatus()["echo"]
	if before.Kind != sandrun.WarmGuest || before.Tier != jail.Name || before.Ready < 1 || before.Error != "" {
		t.Fatalf("before a run: %+v", before)
	}
	runGuest(t, b, "pass", sandrun.Limits{})
	after := b.WarmStatus()["echo"]
	if after.Warm != before.Warm+1 {
		t.Fatalf("a run with a child ahead: before %+v, after %+v", before, after)
	}
	if _, ok := b.WarmStatus()["python"]; ok {
		t.Errorf("a guest's zygote is listed as the language's: %+v", b.WarmStatus())
	}
}

// TestGuestPrepare: the guest's warm-up ran in the run's own child (its
// pid), before the run; one that fails fails the run, naming the layer.
func TestGuestPrepare(t *testing.T) {
	res, _ := runGuest(t, guestBackend(t), "import os\nprint(PREPARED == [os.getpid()], len(PREPARED))", sandrun.Limits{})
	if res.Status != sandrun.StatusOK || res.Stdout != "True 1\n" {
		t.Fatalf("status %s stdout %q stderr %q err %s", res.Status, res.Stdout, res.Stderr, res.Error)
	}
	// The warm-up's CPU is not the run's (here 300 ms of it, before a run
	// of nothing).
	res, _ = runGuest(t, guestBackendPrepared(t, "sandrun_echo_guest.busy_prepare"), "pass", sandrun.Limits{})
	if res.Status != sandrun.StatusOK || res.Usage.CPUMs >= 150 {
		t.Fatalf("a run after a busy warm-up: status %s, usage %+v", res.Status, res.Usage)
	}
	b := guestBackendPrepared(t, "sandrun_echo_guest.broken_prepare")
	res, _, err := tryGuest(b, "print('ran')", sandrun.Limits{})
	var se *jail.SetupError
	if !errors.As(err, &se) || se.Layer != jail.LayerExec {
		t.Fatalf("a failing warm-up: got %v, %+v; want the exec layer's setup error", err, res)
	}
}

// TestGuestEndsWithItsStreams: a guest that reported its run over and
// closed its stdout, stderr and channel has ended its run; the runner ends
// the process then (here one that would sleep past its wall-clock limit:
// ok, not timeout). Closing them without the report ends nothing: the
// process's own exit status stands.
func TestGuestEndsWithItsStreams(t *testing.T) {
	b := guestBackend(t)
	lim := sandrun.Limits{WallTime: sandrun.Duration(20 * time.Second)}
	res, ch := runGuest(t, b, `
import os, sys, time
print("done")
sys.stdout.flush()
os.write(CHANNEL, b"report")
for fd in (1, 2, CHANNEL):
    os.close(fd)
time.sleep(600)
`, lim)
	if res.Status != sandrun.StatusOK || res.Stdout != "done\n" || ch != "report" {
		t.Fatalf("status %s stdout %q channel %q err %s", res.Status, res.Stdout, ch, res.Error)
	}
	res, _ = runGuest(t, b, `
import os, sys, time
print("partly")
sys.stdout.flush()
for fd in (1, 2, CHANNEL):
    os.close(fd)
time.sleep(0.5)
os._exit(3)
`, lim)
	if res.Status != sandrun.StatusExitError || res.ExitCode != 3 || res.Stdout != "partly\n" {
		t.Fatalf("no report: status %s exit %d stdout %q err %s", res.Status, res.ExitCode, res.Stdout, res.Error)
	}
}

// TestGuestContained: a guest child's program, running plain python
// with every built-in, cannot read host files or the jail's own view
// beyond the runtime, write anywhere, start a process, open a socket,
// signal or trace anything.
func TestGuestContained(t *testing.T) {
	dir := t.TempDir()
	secret := dir + "/secret"
	if err := os.WriteFile(secret, []byte("host-secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	code := `
import os, socket, subprocess, ctypes
def attempt(name, f):
    try:
        r = f()
        print(name, "ALLOWED", repr(r)[:60])
    except BaseException as e:
        print(name, "blocked", type(e).__name__)
attempt("host-file", lambda: open(` + "`" + `SECRET` + "`" + `).read())
attempt("etc", lambda: open("/etc/passwd").read())
attempt("proc", lambda: open("/proc/self/status").read())
attempt("tmp-write", lambda: open("/tmp/x", "w").write("x"))
attempt("work-write", lambda: open("/work/x", "w").write("x"))
attempt("exec", lambda: subprocess.run(["/bin/true"]))
attempt("fork", lambda: os.fork())
attempt("socket", lambda: socket.socket(socket.AF_UNIX))
attempt("kill", lambda: os.kill(1, 9))
def ptrace():
    r = ctypes.CDLL(None, use_errno=True).ptrace(16, 1, 0, 0)
    if r == -1:
        raise OSError(ctypes.get_errno(), "ptrace")
    return r
attempt("ptrace", ptrace)
attempt("setuid", lambda: os.setuid(0))
attempt("listdir", lambda: os.listdir("/"))
import fcntl, struct, sys
runtime = open(os.__file__, "rb")
attempt("posix lock on a runtime file", lambda: fcntl.lockf(runtime, fcntl.LOCK_SH | fcntl.LOCK_NB))
attempt("lock query on a runtime file", lambda: fcntl.fcntl(runtime, fcntl.F_GETLK, struct.pack("hhllhh", fcntl.F_RDLCK, 0, 0, 0, 0, 0)))
attempt("flock on a runtime file", lambda: fcntl.flock(runtime, fcntl.LOCK_SH | fcntl.LOCK_NB))
attempt("thread", lambda: __import__("threading").Thread(target=print).start())
attempt("pipe", lambda: os.pipe())
attempt("signal itself", lambda: os.kill(os.getpid(), 0))
attempt("memfd", lambda: os.memfd_create("x"))
`
	code = strings.ReplaceAll(code, "`SECRET`", "'"+secret+"'")
	res, _ := runGuest(t, guestBackend(t), code, sandrun.Limits{})
	if res.Status != sandrun.StatusOK {
		t.Fatalf("status %s: %s\nstdout %s\nstderr %s", res.Status, res.Error, res.Stdout, res.Stderr)
	}
	for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		if strings.Contains(line, "ALLOWED") {
			t.Errorf("%s", line)
		}
	}
	if strings.Contains(res.Stdout, "host-secret") {
		t.Errorf("the host file leaked: %s", res.Stdout)
	}
	t.Logf("\n%s", res.Stdout)
}

func guestLogLevel() slog.Level {
	if os.Getenv("SANDRUN_TEST_DEBUG") != "" {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}
