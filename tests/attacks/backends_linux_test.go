//go:build linux

package attacks

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/docker"
	"github.com/sandrun/sandrun/backend/gvisor"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/backend/process"
	"github.com/sandrun/sandrun/lang"
	"github.com/sandrun/sandrun/netpolicy"
)

// tier is one OS-level backend under test, by name. A later tier (docker,
// gvisor) plugs in by adding an entry to tiers().
type tier struct {
	// name is the tier as the report shows it; backend is the registered
	// backend name requests use (default: name).
	name, backend string
	// open builds the backend with its work directories under workBase; an
	// error means the tier is unavailable on this host.
	open func(t *testing.T, workBase string) (sandrun.Backend, error)
	// required: under SANDRUN_TEST_STRICT=1 (CI) an unavailable tier fails.
	required bool
	// gaps are the cases this tier by design cannot contain, with why.
	// They run and are reported as known gaps; they never count as passed.
	gaps map[int]string
	// findings are open findings: cases this tier should contain but does not yet,
	// each with what is wrong. They run and are reported as OPEN (a
	// skipped subtest naming the finding), never passed; delete the entry
	// when the tier is fixed (the report then says the case holds).
	findings map[int]string
	// overrides adjust a case's expectations where this tier legitimately
	// differs (say, a different but equally clean status).
	overrides map[int]func(*expect)
	// ownsCgroup tells this test process's cgroups from those of other
	// sandrun processes on the host (nil: every new sandrun cgroup counts).
	ownsCgroup func(path string) bool
	// spare matches processes the backend keeps on purpose between runs
	// (prestarted inits); up to spares of them are not leftovers.
	spare  func(proc) bool
	spares int
	// heavy tiers run only without -short.
	heavy bool
	// noFiles: the tier's runs have no writable file system (a guest
	// child): TestConcurrentRuns checks them with concurrentNoFiles.
	noFiles bool
	// leftovers lists what the tier made for a run that outlived it and
	// is not on this host's process tree (the kubernetes tier's pods).
	leftovers func() []string

	workBase string // set by the harness
	// netOp is the operator's network settings for the tiers that enforce
	// an allowlist (nil without test hosts), set by the harness before
	// open; netRefusal, set after it, says why this tier cannot enforce
	// one ("" when it can): its network cases must then be rejected.
	netOp      *netpolicy.Operator
	netRefusal string
}

func tiers() []*tier {
	return []*tier{
		jailTier(0),
		jailTier(1),
		jailWarmTier(),
		jailGuestTier(),
		dockerTier(),
		gvisorTier(),
		processTier(),
		kubernetesTier(),
	}
}

// dockerTier runs each case in a fresh container through the Engine API.
// Its containers are not the test process's descendants; the engine's
// per-run cgroups are /sandrun-docker/<run id>/<container id>.
func dockerTier() *tier {
	tr := &tier{
		name:       docker.Name,
		required:   true,
		ownsCgroup: func(p string) bool { return strings.Contains(p, "/sandrun-docker/") },
		gaps:       dockerGaps(),
		overrides:  containerOverrides(),
	}
	tr.open = func(t *testing.T, _ string) (sandrun.Backend, error) {
		b := docker.New(docker.Options{Logger: slog.New(slog.DiscardHandler), Network: tr.netOp})
		t.Cleanup(func() { _ = b.Close() })
		return b, nil
	}
	return tr
}

// gvisorTier runs each case in a fresh gVisor sandbox (runsc).
func gvisorTier() *tier {
	return &tier{
		name:     gvisor.Name,
		required: true,
		open: func(t *testing.T, workBase string) (sandrun.Backend, error) {
			if testing.Short() {
				t.Skip("gvisor: seconds per case on the ptrace platform; skipped under -short")
			}
			return gvisor.New(gvisor.Options{
				Languages: lang.NewRegistry(lang.Options{}),
				BaseDir:   workBase,
				StateDir:  filepath.Join(os.TempDir(), "sandrun-attacks-gvisor"),
				Logger:    slog.New(slog.DiscardHandler),
			}), nil
		},
		ownsCgroup: func(p string) bool {
			return strings.Contains(p, fmt.Sprintf("sandrun-%d-", os.Getpid()))
		},
		gaps:      gvisorGaps(),
		overrides: containerOverrides(),
	}
}

// dockerGaps: what the docker tier by design does not contain.
func dockerGaps() map[int]string {
	return map[int]string{
		16: "pid 1 is the engine's docker-init (it reaps orphans, case 38), running as the same uid as the program: " +
			"its /proc/1 maps and fd list are readable (it holds only the stdio pipes); process_vm_readv/writev themselves are denied",
	}
}

// containerOverrides: case 49 counts a sixth CONTAINED line that only a
// failed abstract-socket listen prints; in a container the listen works
// (a private network namespace) and all five probes of the peer are
// contained.
func containerOverrides() map[int]func(*expect) {
	return map[int]func(*expect){
		49: func(e *expect) { e.Contained = 5 },
	}
}

// gvisorGaps: what the gvisor tier (Debian's runsc, release 20221219,
// ptrace platform) cannot show or does differently. None lets anything
// reach the host: the program talks to gVisor's kernel.
func gvisorGaps() map[int]string {
	const slow = "gVisor on the ptrace platform starts python in seconds on a loaded 2-core VM (every system call is a " +
		"ptrace round trip): the case's short limits end the run before the program prints what the case checks"
	return map[int]string{
		7:  "gVisor's /proc/self/status has no NoNewPrivs line (the spec sets noNewPrivileges; setuid(0) and friends are refused)",
		17: "gVisor's /proc/self/ns has no mnt link, so the case cannot prove a private mount namespace and refuses the destructive part; mount and umount2 act on gVisor's own VFS",
		21: "this runsc ignores a seccomp rule's errnoRet: io_uring_* are denied with EPERM instead of the ENOSYS the case wants",
		25: "gVisor's /proc/self/status has no CapAmb line (the other sets read 0; the spec grants no capability)",
		26: "the program is pid 1 of the sandbox, and gVisor, unlike Linux, lets a child's kill -9 -1 kill its init: the run ends signaled; nothing outside is touched",
		28: slow + " (the bomb itself is contained: with a quiet host the case passes, timeout with the pids cap holding)",
		31: slow, 32: slow,
		23: "gVisor answers an int 0x80 call itself (i386 getpid returned -EBADF, apparently read as the 64-bit " +
			"number 20, writev): the call stays in gVisor's kernel under its seccomp policy; the host's ia32 entry is not reached",
		9: "gVisor's own CPU for the program's tens of thousands of file creations (ptrace platform) is charged to the " +
			"sandbox's cgroup, so the CPU watchdog (the limit + 0.5 s of the sandbox's CPU) ends the run cpu_limit before the inode cap is reached",
		22: slow + " (this case makes some forty probes, each in a forked child)",
		38: slow + " (this case forks fifty children)",
	}
}

// jailTier is the default Linux tier: it must contain every case. The
// test binary is its init (TestMain dispatches the role). With prestart > 0
// it is the jail as `sandrun serve` and bench configure it: inits cloned
// ahead of time, each waiting for its run's config (named jail-prestart).
func jailTier(prestart int) *tier {
	name := jail.Name
	if prestart > 0 {
		name = jail.Name + "-prestart"
	}
	tr := &tier{
		name:    name,
		backend: jail.Name,
		// As root on Linux (CI) the jail must work; an unprivileged user
		// without delegated cgroups legitimately has no jail (it fails
		// closed and says why), so there it is skipped even when strict.
		required: os.Geteuid() == 0,
		heavy:    prestart > 0,
		findings: jailOpenFindings(),
		// Per-run groups are <cgroup>/sandrun-jail/<supervisor pid>-<random>.
		ownsCgroup: func(p string) bool {
			return strings.Contains(p, fmt.Sprintf("/sandrun-jail/%d-", os.Getpid()))
		},
		// The prestarted inits waiting for their next run: Prestart in the
		// pool, plus the one the refill loop has spawned and is blocked
		// handing over.
		spares: prestart + 1,
		spare: func(p proc) bool {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.pid))
			return p.ppid == os.Getpid() && strings.HasPrefix(string(b), "sandrun-jail-init\x00")
		},
	}
	tr.open = func(t *testing.T, _ string) (sandrun.Backend, error) {
		b, err := jail.New(jail.Options{
			Languages: lang.NewRegistry(lang.Options{}),
			Prestart:  prestart,
			Logger:    slog.New(slog.DiscardHandler),
			Network:   tr.netOp,
		})
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { _ = b.Close() })
		return b, nil
	}
	return tr
}

// jailWarmTier is the jail as serve runs it: python runs in children of
// a zygote (the warm path), each a full sandbox of its own that must
// contain every case as a cold jail does. The tier fails if a python case
// ran cold instead.
func jailWarmTier() *tier {
	jt := jailTier(0)
	jt.name = jail.Name + "-warm"
	jt.heavy = true
	jt.open = func(t *testing.T, _ string) (sandrun.Backend, error) {
		b, err := jail.New(jail.Options{
			Languages: lang.NewRegistry(lang.Options{}),
			Warm:      64, // TestConcurrentRuns runs 50 at once
			Logger:    slog.New(slog.DiscardHandler),
			// Runs with an allowlist are never served warm (no proxy in a
			// zygote's child): they run in a cold jail of this backend.
			Network: jt.netOp,
		})
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { _ = b.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := b.WarmReady(ctx, "python"); err != nil {
			return nil, err
		}
		start := b.WarmStats()
		t.Cleanup(func() {
			if st := b.WarmStats(); st.Fallbacks != start.Fallbacks || st.Restarts != start.Restarts {
				t.Errorf("python cases ran cold (%d) or the zygote was restarted (%d): the tier did not test the warm path",
					st.Fallbacks-start.Fallbacks, st.Restarts-start.Restarts)
			}
		})
		return b, nil
	}
	// The zygote jail's init and the zygote program live as long as the
	// backend; a replacement may overlap the one it replaces.
	jt.spares = 4
	jt.spare = func(p proc) bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.pid))
		return strings.HasPrefix(string(b), "sandrun-jail-zygote\x00") || strings.Contains(string(b), "\x00-c\x00# sandrun jail zygote")
	}
	return jt
}

// jailOpenFindings are the corpus's findings against the jail that are not
// fixed yet (see tier.findings).
func jailOpenFindings() map[int]string {
	return map[int]string{
		49: "a channel between concurrent sandboxes through the read-only runtime files every " +
			"run binds (the same inodes): POSIX record locks (a read lock one run takes is seen by " +
			"another through fcntl F_GETLK; flock is denied, fcntl locks are not, since sqlite " +
			"in /work needs them). inotify, the second channel the case found, is now denied by seccomp",
	}
}

// processTier is the portable tier. Its import hook is off here: it is a
// speed bump, not a boundary, and the corpus tests the boundary.
func processTier() *tier {
	return &tier{
		name:     process.Name,
		backend:  process.Name,
		required: true,
		open: func(t *testing.T, workBase string) (sandrun.Backend, error) {
			return process.New(process.Options{
				Languages:      lang.NewRegistry(lang.Options{}),
				BaseDir:        workBase,
				BlockedModules: []string{},
				Logger:         slog.New(slog.DiscardHandler),
			})
		},
		gaps: processGaps(),
	}
}

// processGaps: the process tier is a resource boundary, not a security
// boundary. It shares the host's filesystem view, pid, ipc and network
// namespaces, and has no seccomp filter. These cases are contained only by
// stronger tiers (README security section).
//
// As root (CI) the tier runs each program under an unprivileged uid of
// its own, with no capabilities, in a cgroup of its own (memory, pids,
// kill of the whole tree), and removes what the uid left in the host's
// shared directories: the cases that this contains are not gaps there.
// Without root the program has the supervisor's uid and they are.
func processGaps() map[int]string {
	const (
		fsView  = "shares the host filesystem view: it reads what the supervisor's uid (root: any other uid) may read"
		noCaps  = "no capability drop, no seccomp filter: the program has the supervisor's privileges"
		noSec   = "no seccomp filter"
		hostPID = "shares the host pid namespace"
		hostNet = "shares the host network namespace"
	)
	gaps := map[int]string{
		1: fsView, 2: fsView, 3: fsView, 4: fsView, 5: fsView,
		6:  noCaps,
		7:  "no no_new_privs (and without root, the supervisor's uid)",
		8:  "no size-capped work dir: RLIMIT_FSIZE caps one file, not the total",
		9:  "no inode-capped temp dir",
		10: "/tmp, /dev/shm, /var/tmp and /run/lock are the host's, shared between runs",
		11: "the host's /proc, with the supervisor's privileges",
		12: "the host's /sys is visible",
		13: hostPID, 14: hostPID,
		15: noSec, 16: noSec, 17: noCaps, 18: noSec, 19: noSec, 20: noCaps,
		21: noSec, 22: noSec, 23: noSec, 24: noSec, 25: "the capability bounding set is the supervisor's (as root the program's other sets are empty)",
		26: hostPID + "; the case refuses to run kill -1 there",
		27: noSec,
		28: "RLIMIT_NPROC counts the user's processes host-wide; no pids cgroup without root",
		30: "tmpfs writes (/dev/shm) are not charged to the program without its cgroup (root)",
		37: "a setsid daemon leaves the process group the tier kills; only the run's cgroup (root) catches it",
		38: "orphans are reparented to the host's init (or the supervisor when it is a subreaper), not reaped by the tier",
		39: hostNet, 40: hostNet, 41: hostNet, 42: noCaps, 43: hostNet, 44: noSec,
		45: fsView,
		47: "Go's os/exec hands the child every descriptor the supervisor opened without O_CLOEXEC; the tier has no hook between fork and exec to close them",
		49: "shares the host's pid, ipc and network namespaces and files with every other run",
		50: hostNet + " with every other run: /proc/net/unix lists every socket on the host",
		67: "the host's world-writable directories are the program's to write; the cleanup walks /tmp, /var/tmp, /dev/shm, /run/lock and /dev/mqueue only into world-writable subdirectories, so one below another directory (a root filesystem's /tmp under /tmp/x) or elsewhere keeps what a run left",
	}
	if os.Geteuid() == 0 {
		// The unprivileged uid (1, 4, 5 with protected_hardlinks, 6, 11,
		// 17, 20, 42), the run's cgroup (28, 30, 37) and the cleanup of
		// the shared directories (10).
		for _, n := range []int{1, 4, 5, 6, 10, 11, 17, 20, 28, 30, 37, 42} {
			delete(gaps, n)
		}
	}
	return gaps
}

// childRole dispatches the child roles of backends that re-exec the test
// binary (the jail's init).
func childRole() (int, bool) {
	if len(os.Args) > 2 && os.Args[1] == "__child" && os.Args[2] == jail.ChildRole {
		return jail.ChildMain(os.Args), true
	}
	return 0, false
}
