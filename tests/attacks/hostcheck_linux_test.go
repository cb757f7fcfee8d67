//go:build linux

package attacks

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// proc is one process as /proc/PID/stat shows it.
type proc struct {
	pid, ppid int
	state     byte
	comm      string
	start     uint64 // start time in ticks: a pid plus its start is unique
}

func (p proc) String() string {
	return fmt.Sprintf("pid %d (%s) state %c ppid %d", p.pid, p.comm, p.state, p.ppid)
}

func readProcs() map[int]proc {
	out := map[int]proc{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// comm may hold spaces and parentheses: split at the last ')'.
		i, j := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if i < 0 || j < i {
			continue
		}
		f := strings.Fields(string(b[j+1:]))
		if len(f) < 20 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		start, _ := strconv.ParseUint(f[19], 10, 64)
		out[pid] = proc{pid: pid, ppid: ppid, state: f[0][0], comm: string(b[i+1 : j]), start: start}
	}
	return out
}

// descendants of the test process: every process a backend (or a program
// that escaped it and was reparented to us, the subreaper) left running.
func descendants() map[int]proc {
	all := readProcs()
	kids := map[int][]int{}
	for _, p := range all {
		kids[p.ppid] = append(kids[p.ppid], p.pid)
	}
	out := map[int]proc{}
	queue := []int{os.Getpid()}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, k := range kids[p] {
			if _, seen := out[k]; !seen {
				out[k] = all[k]
				queue = append(queue, k)
			}
		}
	}
	return out
}

// hostState is what a case must leave as it found.
type hostState struct {
	procs   map[int]proc
	cgroups map[string]bool
	mounts  map[string]bool
}

// cgroupRoots is where cgroup hierarchies are mounted (v1 controllers and
// the v2 unified tree).
const cgroupRoots = "/sys/fs/cgroup"

// sandrunCgroups lists cgroup directories at or below one whose name
// mentions sandrun, a few levels deep under every hierarchy.
func sandrunCgroups() map[string]bool {
	out := map[string]bool{}
	roots, _ := filepath.Glob(filepath.Join(cgroupRoots, "*"))
	roots = append(roots, cgroupRoots)
	for _, r := range roots {
		base := strings.Count(r, "/")
		_ = filepath.WalkDir(r, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if strings.Count(p, "/")-base > 4 {
				return fs.SkipDir
			}
			if strings.Contains(strings.TrimPrefix(p, r), "sandrun") {
				out[p] = true
			}
			return nil
		})
	}
	return out
}

// sandrunMounts lists mountinfo lines of the host's mount namespace that
// mention sandrun (mount points under work dirs, bind sources, tmpfs names).
func sandrunMounts() map[string]bool {
	out := map[string]bool{}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return out
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.Contains(s.Text(), "sandrun") {
			// Drop the mount id and parent id: they change on remount.
			fs := strings.Fields(s.Text())
			out[strings.Join(fs[2:], " ")] = true
		}
	}
	return out
}

func snapshot() hostState {
	reapOrphans()
	return hostState{procs: descendants(), cgroups: sandrunCgroups(), mounts: sandrunMounts()}
}

// reapOrphans waits for the zombies that are the test process's children
// only because it is a subreaper: processes a backend's helper left
// behind (runsc's re-executed "exe" sandbox and gofer processes, once
// their runsc parent exits). Nothing in this process would ever wait for
// them, and they piled up by the hundred. A zombie that an os.Process
// here still holds a pidfd for is a backend's own child, which its Wait
// reaps: those are left alone, or that Wait would fail.
func reapOrphans() int {
	me := os.Getpid()
	var zombies []int
	for pid, p := range readProcs() {
		if p.ppid == me && p.state == 'Z' {
			zombies = append(zombies, pid)
		}
	}
	if len(zombies) == 0 {
		return 0
	}
	// Read after the zombies: a child started in between already has its
	// pidfd (it is made at clone time).
	held := heldPidfds()
	n := 0
	for _, pid := range zombies {
		if held[pid] {
			continue
		}
		var ws syscall.WaitStatus
		if got, _ := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil); got == pid {
			n++
		}
	}
	return n
}

// heldPidfds lists the pids this process holds a pidfd for (Go's os
// package keeps one per started, not yet waited, child).
func heldPidfds() map[int]bool {
	out := map[int]bool{}
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err != nil || l != "anon_inode:[pidfd]" {
			continue
		}
		b, err := os.ReadFile("/proc/self/fdinfo/" + e.Name())
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Pid:"); ok {
				if pid, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
					out[pid] = true
				}
			}
		}
	}
	return out
}

// probeDirs are the shared host directories cases write probe files into
// (named sandrun-attack-*) when an attack works.
func probeDirs() []string {
	return []string{"/", "/root", "/etc", "/usr", "/usr/bin", "/usr/lib", "/usr/local", "/tmp",
		"/var/tmp", "/dev/shm", "/run", "/run/lock", os.TempDir()}
}

// checkHost compares the host with before and with the fixtures, cleans up
// whatever it finds, and returns the problems.
func (h *harness) checkHost(before hostState, tr *tier) []string {
	var bad []string
	f := h.fix

	for p, want := range f.canaries {
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, want) {
			bad = append(bad, fmt.Sprintf("canary %s changed or removed (%v)", p, err))
			_ = os.WriteFile(p, want, 0o644)
		}
	}
	for _, d := range probeDirs() {
		ms, _ := filepath.Glob(filepath.Join(d, "sandrun-attack-*"))
		for _, m := range ms {
			if strings.HasPrefix(filepath.Base(m), dockerPrefix) {
				continue // a fixture (ours, or another test process's)
			}
			bad = append(bad, "probe file left on the host: "+m)
			_ = os.RemoveAll(m)
		}
	}
	if err := f.victim.Process.Signal(syscall.Signal(0)); err != nil {
		bad = append(bad, fmt.Sprintf("the host victim process (pid %d) was killed: %v", f.victim.Process.Pid, err))
	}
	if n := f.hits.Swap(0); n > 0 {
		bad = append(bad, fmt.Sprintf("%d connection(s) reached a host listener (%v)", n, f.hitFrom.Load()))
	}
	bad = append(bad, leftoverProcs(before.procs, tr)...)
	if tr.leftovers != nil {
		// Deletion through an API is not instant: give it a moment.
		var left []string
		for deadline := time.Now().Add(15 * time.Second); ; {
			if left = tr.leftovers(); len(left) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		bad = append(bad, left...)
	}

	// Cgroups and mounts: give the backend's teardown a moment, then call
	// whatever new one that remains (and is ours) a leak.
	var cg, mn []string
	for deadline := time.Now().Add(3 * time.Second); ; {
		cg, mn = cg[:0], mn[:0]
		spares := tr.sparePids()
		for p := range sandrunCgroups() {
			if !before.cgroups[p] && tr.owns(p) && !holdsAny(p, spares) {
				cg = append(cg, p)
			}
		}
		for m := range sandrunMounts() {
			if !before.mounts[m] && tr.owns(m) {
				mn = append(mn, m)
			}
		}
		if len(cg)+len(mn) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(cg))) // children before parents
	for _, p := range cg {
		bad = append(bad, "cgroup left behind: "+p)
		_ = syscall.Rmdir(p)
	}
	for _, m := range mn {
		bad = append(bad, "mount left behind: "+m)
	}
	if tr.workBase != "" {
		ents, _ := os.ReadDir(tr.workBase)
		for _, e := range ents {
			bad = append(bad, "work dir left behind: "+filepath.Join(tr.workBase, e.Name()))
			_ = os.RemoveAll(filepath.Join(tr.workBase, e.Name()))
		}
	}
	bad = append(bad, sysvLeft()...)
	return bad
}

// owns tells whether a cgroup path or a mountinfo line belongs to this test
// process: the tier's own predicate when it has one, else sandrun's naming
// (sandrun-<supervisor pid>-...) or the tier's work dir base. Other sandrun
// processes on the host (other test packages, running in parallel) are
// none of our business.
func (tr *tier) owns(s string) bool {
	if tr.ownsCgroup != nil {
		return tr.ownsCgroup(s)
	}
	return strings.Contains(s, fmt.Sprintf("sandrun-%d-", os.Getpid())) ||
		(tr.workBase != "" && strings.Contains(s, tr.workBase))
}

// sparePids are the processes the tier keeps on purpose (prestarted inits).
func (tr *tier) sparePids() map[int]bool {
	out := map[int]bool{}
	if tr.spare == nil {
		return out
	}
	for pid, p := range descendants() {
		if tr.spare(p) {
			out[pid] = true
		}
	}
	return out
}

// holdsAny tells whether the cgroup dir holds one of pids: a spare's group
// is made with it, ahead of its run, and is not a leftover.
func holdsAny(dir string, pids map[int]bool) bool {
	if len(pids) == 0 {
		return false
	}
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return false
	}
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pids[pid] {
			return true
		}
	}
	return false
}

// leftoverProcs waits briefly for processes that were not there before to
// go, then kills and reaps the rest and reports them.
func leftoverProcs(before map[int]proc, tr *tier) []string {
	extra := func() []proc {
		var out []proc
		spares := 0
		for pid, p := range descendants() {
			if b, ok := before[pid]; ok && b.start == p.start {
				continue
			}
			if tr.spare != nil && spares < tr.spares && tr.spare(p) {
				spares++
				continue
			}
			out = append(out, p)
		}
		return out
	}
	var left []proc
	for deadline := time.Now().Add(3 * time.Second); ; {
		left = extra()
		reap(left)
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(left) == 0 {
		return nil
	}
	var bad []string
	for _, p := range left {
		bad = append(bad, "process left running after the run: "+p.String())
	}
	for i := 0; i < 20 && len(left) > 0; i++ {
		for _, p := range left {
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond)
		reap(left)
		left = extra()
	}
	for _, p := range left {
		bad = append(bad, "could not get rid of: "+p.String())
	}
	return bad
}

// reap collects zombies that were reparented to the test process (it is
// the subreaper). Only those pids: the backends wait for their own.
func reap(ps []proc) {
	me := os.Getpid()
	for _, p := range ps {
		if p.ppid == me && p.state == 'Z' {
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(p.pid, &ws, syscall.WNOHANG, nil)
		}
	}
}

// sysvKeyBase..+0xff are the SysV IPC keys the cases use ("SRN").
const sysvKeyBase = 0x53524e00

// sysvLeft reports SysV IPC objects with the cases' keys visible on the
// host, and removes them.
func sysvLeft() []string {
	var bad []string
	for _, kind := range []string{"shm", "msg", "sem"} {
		b, err := os.ReadFile("/proc/sysvipc/" + kind)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			key, _ := strconv.ParseInt(f[0], 10, 64)
			id, _ := strconv.Atoi(f[1])
			if key&^0xff != sysvKeyBase {
				continue
			}
			bad = append(bad, fmt.Sprintf("SysV %s key %#x visible on the host", kind, key))
			removeSysv(kind, id)
		}
	}
	return bad
}
func removeSysv(kind string, id int) {
	switch kind {
	case "shm":
		_, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	case "msg":
		_, _, _ = unix.Syscall(unix.SYS_MSGCTL, uintptr(id), unix.IPC_RMID, 0)
	case "sem":
		_, _, _ = unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), 0, unix.IPC_RMID, 0, 0, 0)
	}
}
