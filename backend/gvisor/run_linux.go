//go:build linux

package gvisor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/capture"
	"github.com/sandrun/sandrun/internal/cgmeter"
	"github.com/sandrun/sandrun/internal/cgroup"
	"github.com/sandrun/sandrun/internal/seccompprofile"
	"github.com/sandrun/sandrun/internal/verdict"
	"github.com/sandrun/sandrun/internal/workdir"
	"golang.org/x/sys/unix"
)

func platformCheck() error {
	if os.Geteuid() != 0 {
		return errors.New("the gvisor tier needs root: runsc makes the sandbox's namespaces and cgroups")
	}
	return nil
}

// cgroupDir is the cgroup (in every hierarchy) under which each run's
// sandbox gets its own: /sandrun-gvisor/<id>/sandbox.
const cgroupDir = "sandrun-gvisor"

// Run implements sandrun.Backend.
func (b *Backend) Run(ctx context.Context, req *sandrun.Request) (*sandrun.Result, error) {
	if err := b.init(ctx); err != nil {
		return nil, err
	}
	l, err := b.opts.Languages.Lookup(ctx, req.Language)
	if err != nil {
		return nil, err
	}
	if len(req.Collect) > 0 {
		for _, g := range req.Collect {
			if _, err := filepath.Match(g, ""); err != nil {
				return nil, &sandrun.RequestError{Field: "collect", Msg: err.Error()}
			}
		}
	}
	var rb [8]byte
	_, _ = rand.Read(rb[:])
	// The supervisor's pid in the id lets the sweep tell whose it is.
	id := fmt.Sprintf("sandrun-%d-%s", os.Getpid(), hex.EncodeToString(rb[:]))
	dir := filepath.Join(b.base, id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bundle dir: %w", err)
	}
	work := filepath.Join(dir, "work")
	meter := cgmeter.New(cgroupDir, "")
	defer func() {
		b.destroy(id)
		_ = unix.Unmount(work, unix.MNT_DETACH)
		if err := workdir.Remove(dir); err != nil {
			b.opts.Logger.Error("removing bundle", "dir", dir, "err", err)
		}
		if meter != nil {
			_ = meter.Remove(id)
		}
	}()
	if err := b.prepareWork(work, l.FileName, req); err != nil {
		return nil, err
	}
	root, err := b.skeleton(l.Paths)
	if err != nil {
		return nil, fmt.Errorf("root skeleton: %w", err)
	}
	cgPath := "/" + cgroupDir + "/" + id + "/sandbox"
	if meter != nil {
		cgPath = meter.Parent(id) + "/sandbox"
		if err := meter.LimitPids(id, hostPids(req.Limits)); err != nil {
			return nil, fmt.Errorf("the sandbox's host pids cap: %w", err)
		}
	}
	sp := b.spec(l, req, root, work, cgPath)
	// The container tiers' seccomp profile (Docker's default, tightened),
	// enforced by the gVisor kernel on the program (runsc --oci-seccomp):
	// defence in depth behind the user-space kernel, and the same posture
	// as the other tiers. clone3 goes through: this runsc answers it
	// ENOSYS itself but does not honour a profile's errnoRet (it returns
	// EPERM, and glibc only falls back to clone on ENOSYS).
	if sp.Linux.Seccomp, err = seccompprofile.Hardened(seccompprofile.Options{Clone3Allow: true}); err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	js, err := json.Marshal(sp)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), js, 0o600); err != nil {
		return nil, err
	}

	lim := req.Limits
	var (
		killed verdict.KillRecord
		mu     sync.Mutex // guards pgid
		pgid   int
	)
	// A kill asks runsc to kill the sandbox. It can come while runsc is
	// still creating the sandbox (under load that takes longer than a
	// short wall limit), when `runsc kill` finds nothing, or runsc can be
	// slow to act: if runsc run has not returned half a second later, its
	// process group and every process in the run's cgroup (the sandbox
	// and its file proxy) are killed outright, so a limit overshoots by
	// about that much, not by the sandbox's creation time.
	exited := make(chan struct{})
	kill := func(why verdict.Kill, s string) {
		if !killed.Set(why, s) {
			return
		}
		b.kill(id)
		for {
			select {
			case <-exited:
				return
			case <-time.After(killGrace):
			}
			mu.Lock()
			if pgid > 0 {
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
			}
			mu.Unlock()
			if meter != nil {
				meter.Kill(id)
			}
		}
	}
	stdout := capture.New("stdout", int64(lim.Output), req.OnOutput, func() { go kill(verdict.KillOutput, "stdout") })
	stderr := capture.New("stderr", int64(lim.Output), req.OnOutput, func() { go kill(verdict.KillOutput, "stderr") })
	out, err := openOutput(filepath.Join(dir, "out"), int64(lim.Output))
	if err != nil {
		return nil, fmt.Errorf("output files: %w", err)
	}
	defer out.close()

	// The output files are the run's own, never the supervisor's stdio:
	// the gVisor kernel switches the host descriptors it is given to
	// non-blocking, which would break whoever else shares them.
	cmd := exec.Command(b.runsc, b.globalArgs("run", "--bundle", dir, id)...)
	cmd.Stdin = strings.NewReader(req.Stdin)
	cmd.Stdout, cmd.Stderr = out.writers()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting runsc: %w", err)
	}
	mu.Lock()
	pgid = cmd.Process.Pid
	mu.Unlock()
	followed := out.follow([2]io.Writer{stdout, stderr}, exited)
	timer := time.AfterFunc(lim.WallTime.D(), func() { kill(verdict.KillTimeout, "") })
	stopCtx := context.AfterFunc(ctx, func() { go kill(verdict.KillCancel, "") })
	stopWatch := make(chan struct{})
	if meter != nil {
		// This runsc's kernel does not act on RLIMIT_CPU: the supervisor
		// watches the sandbox's CPU time instead.
		go meter.Watch(id, lim.CPUTime.D()+cpuGrace, stopWatch, func() { kill(verdict.KillCPU, "") })
	}
	waitErr := cmd.Wait()
	close(exited)
	close(stopWatch)
	wall := time.Since(start)
	timer.Stop()
	stopCtx()
	followed()
	ps := cmd.ProcessState
	if ps == nil {
		return nil, fmt.Errorf("waiting for runsc: %w", waitErr)
	}
	code := ps.ExitCode()
	res := &sandrun.Result{}
	f := verdict.Facts{Exited: true, ExitCode: code, Limits: lim, OOMMarkers: l.OOMMarkers}
	killed.Fill(&f)
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		if f.Killed == verdict.KillNone {
			return nil, fmt.Errorf("runsc itself was killed by %v: %s", ws.Signal(), lastLine(stderr.Bytes()))
		}
		// The supervisor killed runsc with its sandbox (a limit).
		f.Exited, f.ExitCode, f.Signal = false, -1, ws.Signal()
	}
	// runsc reports a signal death of the program as 128+signal.
	if code > 128 && code < 128+65 {
		switch sig := syscall.Signal(code - 128); sig {
		case syscall.SIGKILL, syscall.SIGXCPU, syscall.SIGXFSZ, syscall.SIGSEGV, syscall.SIGABRT, syscall.SIGSYS, syscall.SIGBUS:
			f.Exited, f.ExitCode, f.Signal = false, -1, sig
		}
	}
	res.Usage.WallMs = wall.Milliseconds()
	if meter != nil && f.Killed == verdict.KillNone && !(f.Exited && f.ExitCode == 0) && meter.PidsHit(id) {
		// gVisor's own platform could not make a host process: the
		// sandbox failed under the program's forks, say so.
		return nil, fmt.Errorf("the gVisor sandbox used up its %d host processes and died (its platform needs host processes for the program's forks; the program itself is held to %d processes inside)",
			hostPids(lim), lim.Processes)
	}
	if meter != nil {
		cpu, peak := meter.Read(id)
		res.Usage.CPUMs, res.Usage.MemoryPeakBytes = cpu.Milliseconds(), peak
		f.CPU = cpu
		// The host kernel's OOM killer acts on the whole sandbox; on
		// cgroup v1 its kill count dies with the sandbox's cgroup, so a
		// SIGKILL at the cgroup's ceiling is read as the memory limit.
		if f.Signal == syscall.SIGKILL && f.Killed == verdict.KillNone && peak >= int64(lim.Memory+b.opts.MemoryOverhead)*98/100 {
			f.OOMKilled = true
		}
	}
	res.Stdout, res.Stderr = stdout.Text(), stderr.Text()
	res.StdoutTruncated, res.StderrTruncated = stdout.Overflowed(), stderr.Overflowed()
	f.Stderr = string(stderr.Bytes())
	verdict.Decide(f, res)
	if len(req.Collect) > 0 {
		files, err := workdir.Collect(work, req.Collect, workdir.CollectLimits{MaxFile: int64(lim.Output)})
		if err != nil {
			return nil, fmt.Errorf("collecting files: %w", err)
		}
		res.Files = files
	}
	return res, nil
}

// cpuGrace: the CPU watchdog reads the sandbox's cgroup, which counts
// gVisor's own work for the program too (its start, and on the ptrace
// platform every system call). It kills the run cpu_limit when the
// sandbox's CPU time passes the limit by this much: the stated tolerance
// (docs/guide/docker.md).
const cpuGrace = 500 * time.Millisecond

// killGrace is how long runsc gets to act on a kill before its process
// group and the sandbox's processes are killed outright.
const killGrace = 500 * time.Millisecond

// globalArgs puts runsc's global flags before a subcommand.
func (b *Backend) globalArgs(sub string, args ...string) []string {
	g := []string{"--root", b.state, "--platform", b.platform, "--network", "none", "--overlay2", "none", "--oci-seccomp"}
	return append(append(g, sub), args...)
}

// prepareWork mounts a size-capped tmpfs at work (on the host, bound into
// the sandbox at /work: its size and inode caps hold whatever the program
// does, and the supervisor collects output files from it after the run),
// and writes the code and the request's files into it, owned by nobody.
func (b *Backend) prepareWork(work, codeName string, req *sandrun.Request) error {
	if err := os.Mkdir(work, 0o700); err != nil {
		return err
	}
	size := int64(req.Limits.WorkDir)
	inodes := max(size/4096, 1024)
	opts := fmt.Sprintf("size=%d,nr_inodes=%d,mode=0700,uid=%d,gid=%d", size, inodes, nobody, nobody)
	if err := unix.Mount("tmpfs", work, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, opts); err != nil {
		return fmt.Errorf("mounting the /work tmpfs: %w", err)
	}
	if err := workdir.WriteFiles(work, req.Files, 0o600); err != nil {
		return fmt.Errorf("writing request files: %w", err)
	}
	if err := os.WriteFile(filepath.Join(work, codeName), []byte(req.Code), 0o600); err != nil {
		return fmt.Errorf("writing code: %w", err)
	}
	return filepath.Walk(work, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, nobody, nobody)
	})
}

// kill ends the sandbox's every process.
func (b *Backend) kill(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, b.runsc, b.globalArgs("kill", "--all", id, "KILL")...).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "does not exist") {
		b.opts.Logger.Warn("runsc kill", "id", id, "err", err, "out", strings.TrimSpace(string(out)))
	}
}

// destroy removes what runsc keeps of a sandbox, when anything is left
// (runsc run destroys its sandbox itself when the program ends).
func (b *Backend) destroy(id string) {
	b.destroyWith(b.runsc, id)
}

// destroyWith is destroy with a given runsc ("": none installed, then
// runsc's state files for id are removed directly; the sweep has killed
// the sandbox's processes through its cgroup already).
func (b *Backend) destroyWith(runsc, id string) {
	ents, _ := os.ReadDir(b.state)
	var left []string
	for _, e := range ents {
		if strings.Contains(e.Name(), id) {
			left = append(left, filepath.Join(b.state, e.Name()))
		}
	}
	if len(left) == 0 {
		return
	}
	if runsc != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, runsc, b.globalArgs("delete", "--force", id)...).CombinedOutput()
		if err == nil {
			return
		}
		b.opts.Logger.Warn("runsc delete", "id", id, "err", err, "out", strings.TrimSpace(string(out)))
	}
	for _, p := range left {
		_ = os.RemoveAll(p)
	}
}

// sweep removes the sandboxes, bundles and work mounts that dead
// supervisors left (ids embed the supervisor's pid): first their
// processes, through the runs' cgroups (runsc run dies with its
// supervisor, the sandbox and its file proxy need not), then runsc's
// state, the /work mounts and the bundles. A live supervisor's runs are
// never touched.
func (b *Backend) sweep(ctx context.Context) int {
	if m := cgmeter.New(cgroupDir, ""); m != nil {
		m.Sweep(ownerOf)
	}
	runsc := b.opts.Runsc
	if runsc == "" {
		runsc = "runsc"
	}
	runsc, _ = exec.LookPath(runsc)
	n := 0
	ents, _ := os.ReadDir(b.base)
	for _, e := range ents {
		if ctx.Err() != nil {
			break
		}
		if !deadOwner(e.Name()) {
			continue
		}
		b.destroyWith(runsc, e.Name())
		dir := filepath.Join(b.base, e.Name())
		unmountUnder(dir)
		if workdir.Remove(dir) == nil {
			n++
		}
	}
	// State left without a bundle (a crash between the two removals).
	states, _ := os.ReadDir(b.state)
	for _, e := range states {
		if id := stateID(e.Name()); id != "" && deadOwner(id) {
			b.destroyWith(runsc, id)
		}
	}
	return n
}

// unmountUnder detaches every mount below dir (the run's /work and
// output tmpfs), deepest first.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			points = append(points, f[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	for _, p := range points {
		_ = unix.Unmount(p, unix.MNT_DETACH)
	}
}

// runID is the form of a run id: the supervisor's pid, then random hex.
var runID = regexp.MustCompile(`sandrun-[0-9]+-[0-9a-f]+`)

// stateID finds a run id in the name of one of runsc's state files.
func stateID(name string) string { return runID.FindString(name) }

// ownerOf reads the supervisor's pid from a run id ("sandrun-<pid>-<hex>").
func ownerOf(id string) (int, bool) {
	rest, ok := strings.CutPrefix(id, "sandrun-")
	if !ok {
		return 0, false
	}
	return cgroup.OwnerPID(rest)
}

// deadOwner reports whether id belongs to a supervisor that is no longer
// running.
func deadOwner(id string) bool {
	pid, ok := ownerOf(id)
	if !ok || pid == os.Getpid() {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
