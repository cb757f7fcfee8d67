//go:build linux

package attacks

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fixtures are the host-side things the cases aim at: canary files outside
// every runtime path, a victim process, listeners on host loopback, on a
// host abstract unix socket and on a docker.sock-like socket, a secret in
// the supervisor's environment and a descriptor opened without O_CLOEXEC.
// Every case's environment tells it where they are; the host checks then
// verify none was touched.
type fixtures struct {
	canaries     map[string][]byte // path -> content (a random token)
	victim       *exec.Cmd
	victimMarker string
	secret       string // in the supervisor's env only
	hostNS       string // "mnt=mnt:[...],pid=..."

	tcpPort      int
	abstractName string // without the leading NUL
	dockerSock   string
	hits         atomic.Int64 // connections any listener accepted
	hitFrom      atomic.Value // string: which listener
}

func token() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// canaryDirs are host directories a sandbox must not see into. Those the
// test user cannot write are skipped (non-root runs).
func canaryDirs() []string {
	return []string{"/root", "/etc", "/var/tmp", os.TempDir()}
}

const canaryPrefix = "sandrun-canary-"

// dockerPrefix names the docker.sock stand-ins (fixtures, not probes).
const dockerPrefix = "sandrun-attack-docker-"

// sweepFixtures removes canaries and socket stand-ins of test processes
// that no longer run (killed before their cleanup).
func sweepFixtures() {
	sweep := func(pattern, prefix string) {
		ms, _ := filepath.Glob(pattern)
		for _, m := range ms {
			n := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m), prefix), ".sock")
			pid, err := strconv.Atoi(n)
			if err == nil && pid > 0 && syscall.Kill(pid, 0) == syscall.ESRCH {
				_ = os.Remove(m)
			}
		}
	}
	for _, d := range canaryDirs() {
		sweep(filepath.Join(d, canaryPrefix+"*"), canaryPrefix)
	}
	for _, d := range []string{"/run", os.TempDir()} {
		sweep(filepath.Join(d, dockerPrefix+"*.sock"), dockerPrefix)
	}
}

func newFixtures(t *testing.T) *fixtures {
	t.Helper()
	sweepFixtures()
	f := &fixtures{canaries: map[string][]byte{}}
	for _, d := range canaryDirs() {
		p := filepath.Join(d, fmt.Sprintf("%s%d", canaryPrefix, os.Getpid()))
		body := []byte("sandrun canary " + token() + "\n")
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Logf("no canary in %s: %v", d, err)
			continue
		}
		f.canaries[p] = body
		t.Cleanup(func() { _ = os.Remove(p) })
	}
	if len(f.canaries) == 0 {
		t.Fatal("could not create any canary file")
	}

	// A secret only the supervisor's environment holds.
	f.secret = "sandrun-supervisor-secret-" + token()
	t.Setenv("SANDRUN_ATTACK_SUPERVISOR_SECRET", f.secret)

	// A descriptor without O_CLOEXEC, on a canary: a backend that lets
	// inherited descriptors through hands the program a host file.
	for p := range f.canaries {
		fd, err := syscall.Open(p, syscall.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = syscall.Close(fd) })
		break
	}

	f.victimMarker = "sandrun-attack-victim-" + token()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	f.victim = &exec.Cmd{Path: sleep, Args: []string{f.victimMarker, "3600"}}
	if err := f.victim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.victim.Process.Kill(); _ = f.victim.Wait() })

	var ns []string
	for _, k := range []string{"mnt", "pid", "net", "user", "ipc", "uts", "cgroup"} {
		if l, err := os.Readlink("/proc/self/ns/" + k); err == nil {
			ns = append(ns, k+"="+l)
		}
	}
	f.hostNS = strings.Join(ns, ",")

	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.tcpPort = tcp.Addr().(*net.TCPAddr).Port
	f.serve(t, tcp, "tcp 127.0.0.1")

	f.abstractName = "sandrun-attack-abstract-" + token()
	abs, err := net.Listen("unix", "@"+f.abstractName)
	if err != nil {
		t.Fatal(err)
	}
	f.serve(t, abs, "abstract unix socket")

	// A docker.sock stand-in in the host's /run (or the temp dir when the
	// test user cannot write /run).
	for _, d := range []string{"/run", os.TempDir()} {
		p := filepath.Join(d, fmt.Sprintf("%s%d.sock", dockerPrefix, os.Getpid()))
		_ = os.Remove(p)
		l, err := net.Listen("unix", p)
		if err != nil {
			continue
		}
		f.dockerSock = p
		f.serve(t, l, "docker.sock stand-in")
		t.Cleanup(func() { _ = os.Remove(p) })
		break
	}
	return f
}

// serve accepts on l, counting every connection, and answers with a line
// that names the listener: a case that reads it has reached the host.
func (f *fixtures) serve(t *testing.T, l net.Listener, what string) {
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			f.hits.Add(1)
			f.hitFrom.Store(what)
			_ = c.SetDeadline(time.Now().Add(time.Second))
			_, _ = c.Write([]byte("HOST-LISTENER " + what + "\n"))
			_ = c.Close()
		}
	}()
}

// env is the allowlisted environment every case gets.
func (f *fixtures) env() map[string]string {
	var cs []string
	for p := range f.canaries {
		cs = append(cs, p)
	}
	e := map[string]string{
		"SANDRUN_ATTACK_CANARIES":   strings.Join(cs, ":"),
		"SANDRUN_ATTACK_VICTIM_PID": strconv.Itoa(f.victim.Process.Pid),
		"SANDRUN_ATTACK_HOST_NS":    f.hostNS,
		"SANDRUN_ATTACK_TCP_PORT":   strconv.Itoa(f.tcpPort),
		"SANDRUN_ATTACK_ABSTRACT":   f.abstractName,
		"SANDRUN_ATTACK_DOCKER":     f.dockerSock,
	}
	return e
}

// secrets are the strings no result may contain.
func (f *fixtures) secrets() []string {
	s := []string{f.secret, f.victimMarker}
	for _, body := range f.canaries {
		s = append(s, strings.TrimSpace(string(body)))
	}
	return s
}

// becomeSubreaper makes orphans of the test's process trees (a daemonized
// grandchild that escaped its sandbox) reparent to the test process, where
// the leftover check finds them, instead of to the host's init.
func becomeSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}
