//go:build linux

package attacks

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/internal/guest"
	"github.com/sandrun/sandrun/internal/pypolicy"
	"github.com/sandrun/sandrun/lang"
)

// jailGuestTier is restricted python's OS layer alone: each python case
// runs in a guest child of the jail's warm path (backend/jail/guest_linux.go:
// one process per run, its own uid and cgroup, no capabilities, Landlock
// read-only on the runtime, a seccomp allowlist, and no per-run
// namespaces) with the language policy switched off, so the case's code
// runs as plain python with every built-in. What the policy would refuse
// the jail must contain on its own.
func jailGuestTier() *tier {
	jt := jailTier(0)
	jt.name = jail.Name + "-guest"
	jt.backend = jt.name
	jt.heavy = true
	jt.noFiles = true
	jt.open = func(t *testing.T, _ string) (sandrun.Backend, error) {
		b, err := jail.New(jail.Options{
			Languages:  lang.NewRegistry(lang.Options{}),
			Guests:     []guest.Spec{pypolicy.Guest()},
			GuestSlots: 64, // TestConcurrentRuns runs 50 at once
			Logger:     slog.New(slog.DiscardHandler),
		})
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { _ = b.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := b.GuestReady(ctx, pypolicy.GuestName); err != nil {
			return nil, err
		}
		return &guestAdapter{j: b, name: jt.name}, nil
	}
	// The guest zygote's jail init and program, and the children forked
	// ahead of their runs, live as long as the backend.
	jt.spares = 4 + 2*jail.GuestPrefork
	jt.spare = func(p proc) bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.pid))
		return strings.HasPrefix(string(b), "sandrun-jail-zygote\x00") || strings.Contains(string(b), "\x00-c\x00# sandrun jail zygote")
	}
	jt.gaps = guestGaps()
	jt.overrides = guestOverrides()
	// The jail's open finding (case 49: record locks on the runtime
	// files as a channel) does not hold here: a guest child's allowlist
	// has no lock command (TestGuestContained probes it).
	jt.findings = nil
	return jt
}

// guestGaps: cases that cannot run their checks in a guest child, which
// has no writable file system, no /proc, and no fork, clone, pipe, socket
// or kill in its allowlist. What they attack it cannot reach; the calls
// themselves are probed in the guest child by backend/jail's
// TestGuestContained and TestGuestSyscalls.
func guestGaps() map[int]string {
	const (
		noFS   = "a guest child has no work directory and no writable file system (Landlock grants no write anywhere): the case's setup cannot make its files"
		noProc = "/proc is not readable in a guest child (Landlock): the case reads it to run its checks"
		inFork = "the case probes each call in a forked child (attacklib.in_child), and fork, clone and pipe are not in a guest child's allowlist"
		noNS   = "the case cannot prove a private namespace (/proc/self/ns is not readable) and refuses its destructive part; kill and socket are not in a guest child's allowlist"
		// The pair's other probes (file locks on runtime files among
		// them) are run in one guest child by TestGuestContained.
		noSocket = "socket is not in a guest child's allowlist: the pair cannot make the sockets the case's protocol uses"
	)
	gaps := map[int]string{
		4: noFS, 5: noFS, 6: noFS, 8: noFS, 9: noFS,
		7: noProc, 13: noProc, 14: noProc, 25: noProc,
		15: inFork, 16: inFork, 17: inFork, 18: inFork, 19: inFork, 20: inFork, 21: inFork, 22: inFork,
		23: inFork, 24: inFork, 27: inFork, 31: inFork, 33: inFork, 38: inFork,
		26: noNS,
		49: noSocket, 50: noSocket,
		28: "fork is not in a guest child's allowlist: the fork bomb stops at its first fork with EPERM, where the case wants the pids cap's EAGAIN",
		47: "fd 3 is the guest's channel to the supervisor by design (host calls and the policy's report; every frame untrusted there)",
	}
	cases, _ := loadCases()
	for _, c := range cases {
		if c.Language != "python" {
			gaps[c.Num] = "a guest child runs the guest's language only (restricted python): no " + c.Language
		}
	}
	return gaps
}

// guestOverrides: where a guest child's containment looks different.
func guestOverrides() map[int]func(*expect) {
	return map[int]func(*expect){}
}

// guestAdapter runs a case's python as the policy's guest with the
// policy off. The case's helper library is prepended (a guest child has
// no /work to put it in); the policy's report gives the status, as the
// restricted tier's does.
type guestAdapter struct {
	j    *jail.Backend
	name string
}

func (g *guestAdapter) Name() string { return g.name }

func (g *guestAdapter) Check(ctx context.Context, language string) error {
	if language != "python" {
		return sandrun.Unsupported("the guest tier runs python only")
	}
	return g.j.CheckGuest(ctx, pypolicy.GuestName)
}

var libImport = regexp.MustCompile(`(?m)^from attacklib import .*$`)

func (g *guestAdapter) Run(ctx context.Context, req *sandrun.Request) (*sandrun.Result, error) {
	code := req.Code
	for _, f := range req.Files {
		if f.Name == libFile {
			lib, _ := f.Bytes()
			code = string(lib) + "\n" + libImport.ReplaceAllString(code, "pass")
		}
	}
	// A guest child's environment is its zygote's: the case's variables
	// (canaries, ports, roles) are data the program is given.
	env, _ := json.Marshal(req.Env)
	code = "import os as _case_os\n_case_os.environ.update(" + string(env) + ")\n" + code
	cfg, _ := json.Marshal(pypolicy.Config{Code: code, FileName: "main.py", Policy: false, MaxVariableBytes: 1 << 16, MaxHostArgBytes: 1 << 16})
	var mu sync.Mutex
	var done *pypolicy.Done
	res, err := g.j.RunGuest(ctx, req, &guest.Run{Guest: pypolicy.GuestName, Config: cfg, Serve: func(c io.ReadWriter) {
		r := bufio.NewReader(c)
		for {
			var hdr [5]byte
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				return
			}
			n := int(binary.BigEndian.Uint32(hdr[:4])) - 1
			if n < 0 || n > 4<<20 {
				return
			}
			p := make([]byte, n)
			if _, err := io.ReadFull(r, p); err != nil {
				return
			}
			if hdr[4] == 'D' {
				var d pypolicy.Done
				if json.Unmarshal(p, &d) == nil {
					mu.Lock()
					done = &d
					mu.Unlock()
				}
			}
		}
	}})
	if err != nil || res.Status != sandrun.StatusOK {
		return res, err
	}
	mu.Lock()
	defer mu.Unlock()
	switch {
	case done == nil:
		res.Status, res.Error = sandrun.StatusInternalError, "no report from the guest"
	case done.Status == "exit_error":
		res.Status, res.ExitCode, res.Error = sandrun.StatusExitError, max(done.Exit, 1), done.Error
	case done.Status != "ok":
		res.Status, res.Error = sandrun.Status(done.Status), done.Error
	}
	return res, nil
}
