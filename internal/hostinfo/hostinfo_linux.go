//go:build linux

package hostinfo

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Read returns what this host offers; dir is where work directories go
// (its free space is measured).
func Read(dir string) Info {
	in := Info{CPUs: runtime.NumCPU(), Memory: memTotal()}
	if c := cgroupMemory(); c > 0 && (in.Memory == 0 || c < in.Memory) {
		in.Memory = c
	}
	var st unix.Statfs_t
	if dir != "" && unix.Statfs(dir, &st) == nil {
		in.DiskFree = int64(st.Bavail) * int64(st.Bsize)
	}
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil && rl.Max != unix.RLIM_INFINITY {
		in.NoFile = int64(rl.Max)
	}
	return in
}

func memTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// cgroupMemory is the memory limit of this process's cgroup (v2
// memory.max, or v1 memory.limit_in_bytes), 0 when there is none.
//
// It reads the calling thread's groups on a thread locked for the read,
// not /proc/self/cgroup: that file is the main thread's, and on cgroup v1
// the jail moves a locked thread of its own into a run's or a zygote's
// groups for the moment it forks (cgroup.Group.Enter), which can be the
// main thread. A server that read its host's memory then took that
// group's 256MiB for the host's and refused every run above 96MiB (seen
// in CI). A thread locked here is never one of those.
func cgroupMemory() int64 {
	runtime.LockOSThread()
	b, err := os.ReadFile("/proc/thread-self/cgroup")
	runtime.UnlockOSThread()
	if err != nil {
		return 0
	}
	return cgroupLimit(b)
}

// cgroupLimit is the memory limit of the groups in a cgroup file's text.
func cgroupLimit(b []byte) int64 {
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var p string
		switch {
		case parts[0] == "0" && parts[1] == "":
			p = filepath.Join("/sys/fs/cgroup", parts[2], "memory.max")
		case strings.Contains(","+parts[1]+",", ",memory,"):
			p = filepath.Join("/sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes")
		default:
			continue
		}
		v, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(v)), 10, 64)
		// v1 reports "no limit" as a huge page-aligned number.
		if err == nil && n > 0 && n < 1<<60 {
			return n
		}
	}
	return 0
}
