//go:build linux

package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// A process is best born in its group rather than moved there: moving a
// process (cgroup.procs) takes the kernel's cgroup_threadgroup_rwsem for
// writing, which waits for an RCU grace period (about 10 ms, more under
// load) whenever no other migration ran just before. A thread that moves
// itself (v1 tasks) skips that lock, and v2's CLONE_INTO_CGROUP needs no
// migration at all. The caller forks on a locked OS thread that has
// called Enter (v1), or clones with the fd of CloneFD (v2); BornInside
// says whether either applies, else the caller moves the child with Add.

// Enter moves the calling thread (locked to its goroutine) into the
// group, so that a process it forks is born there, and returns how to
// move it back. v2 needs nothing here: the clone itself names the group
// (CLONE_INTO_CGROUP, CloneFD); leave is then nil. Only the thread
// moves: the kernel skips its global lock for a thread that moves itself.
// On an error the thread may sit partly in the group: the caller
// discards it.
func (g *Group) Enter() (leave func() error, err error) {
	if g.v2 || g.m == nil || !g.m.selfMove {
		return nil, nil
	}
	home, err := threadCgroups()
	if err != nil {
		return nil, err
	}
	var back []string
	for d, c := range distinct(g.dirs) {
		h, ok := home[c]
		if !ok {
			return nil, fmt.Errorf("cgroup v1: this thread is in no %s group", c)
		}
		back = append(back, filepath.Join(Root, c, h))
		if err := write(d, "tasks", "0"); err != nil {
			return nil, err
		}
	}
	return func() error {
		for _, d := range back {
			if err := write(d, "tasks", "0"); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

// threadCgroups reads the calling thread's v1 groups: controller ->
// path within its hierarchy.
func threadCgroups() (map[string]string, error) {
	b, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, nil
}

// CloneFD returns the fd of a v2 group for CLONE_INTO_CGROUP (the
// caller closes it), or -1 when the group is v1 (see Enter).
func (g *Group) CloneFD() (int, error) {
	if !g.v2 {
		return -1, nil
	}
	return unix.Open(g.dirs[""], unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

// BornInside says whether a process forked after Enter (v1) or cloned
// with CloneFD (v2) is born in the group; otherwise the caller moves it
// with Add.
func (g *Group) BornInside() bool {
	return g.v2 || (g.m != nil && g.m.selfMove)
}

// JoinFiles opens the files through which a process moves itself into
// the group by writing "0": v1's tasks (the thread alone, which skips the
// kernel's process-wide migration lock; the process must be
// single-threaded), v2's cgroup.procs. The kernel checks the opener's
// permission (kernel >= 5.16), so a process without any may be handed
// them. The caller closes the fds.
func (g *Group) JoinFiles() ([]int, error) {
	name := "tasks"
	if g.v2 {
		name = "cgroup.procs"
	}
	var fds []int
	for d := range distinct(g.dirs) {
		fd, err := unix.Open(filepath.Join(d, name), unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			for _, f := range fds {
				unix.Close(f)
			}
			return nil, err
		}
		fds = append(fds, fd)
	}
	return fds, nil
}

// HostControllers lists the controllers the host offers in mode ("v2",
// "v1"), space-separated, for diagnostics.
func HostControllers(mode string) string {
	switch mode {
	case "v2":
		b, err := os.ReadFile(filepath.Join(Root, "cgroup.controllers"))
		if err != nil {
			return "unknown"
		}
		return strings.Join(strings.Fields(string(b)), " ")
	case "v1":
		var have []string
		for _, c := range []string{"memory", "pids", "cpu", "cpuacct"} {
			if _, err := os.Stat(filepath.Join(Root, c)); err == nil {
				have = append(have, c)
			}
		}
		return strings.Join(have, " ")
	}
	return "none"
}
