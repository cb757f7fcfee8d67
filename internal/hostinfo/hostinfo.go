// Package hostinfo reads what this host can give to sandboxed runs: its
// memory (bounded by the supervisor's own cgroup), the free space under
// the work directories, and the open-file limit the supervisor may hand
// down. The root package derives its limit caps from it.
package hostinfo

// Info is a snapshot of the host. A zero field means unknown.
type Info struct {
	// Memory is the memory this process may use: the host's MemTotal, or
	// less when its cgroup caps it.
	Memory int64
	// DiskFree is the space available to an unprivileged writer under the
	// directory Read was given.
	DiskFree int64
	// NoFile is this process's hard RLIMIT_NOFILE: no run can be given
	// more (raising it needs CAP_SYS_RESOURCE in the initial namespace,
	// which the jail's user namespace does not have, and dockerd hands
	// containers its own, usually the same, hard limit).
	NoFile int64
	// CPUs is the number of CPUs this process may run on.
	CPUs int
}
