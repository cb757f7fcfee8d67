package jail

// initConfig is everything the jail init needs, sent by the supervisor as
// the first frame on the sync socket (JSON). It is plain data: the
// supervisor validated it; the init applies it and reports failures as
// codes (see doc.go).
type initConfig struct {
	// Binds are the read-only runtime paths, in the order of the file
	// descriptors that travel with the config (SCM_RIGHTS).
	Binds []bindSpec `json:"binds"`
	// Argv and Env of the program; Argv[0] is an absolute path inside.
	Argv []string `json:"argv"`
	Env  []string `json:"env"`
	// Files are written into /work before the start (code included).
	Files []initFile `json:"files"`
	// Hostname of the UTS namespace.
	Hostname string `json:"hostname"`
	// UID and GID of the one identity inside.
	UID int `json:"uid"`
	GID int `json:"gid"`
	// WorkSize and WorkInodes cap /work, /tmp and /dev/shm (tmpfs).
	WorkSize   int64 `json:"work_size"`
	WorkInodes int64 `json:"work_inodes"`
	// Rlimits applied to the program.
	CPUSeconds uint64 `json:"cpu_seconds"`
	FileSize   uint64 `json:"file_size"`
	OpenFiles  uint64 `json:"open_files"`
	// AddressSpace, when non-zero, sets RLIMIT_AS (only when the cgroup
	// layer is downgraded and the language tolerates it).
	AddressSpace uint64 `json:"address_space"`
	// Layers to skip, each an explicit operator downgrade.
	NoSeccomp  bool `json:"no_seccomp"`
	NoLandlock bool `json:"no_landlock"`
	// LandlockPartial allows a Landlock ABI below 6 (operator downgrade).
	LandlockPartial bool `json:"landlock_partial"`
	// NetPort, when not 0, is the proxy's port on the loopback of the
	// run's network namespace (a run with a network allowlist): seccomp
	// then allows IPv4 TCP sockets and Landlock (ABI 4+) TCP connect to
	// this port only (network_linux.go).
	NetPort uint16 `json:"net_port,omitempty"`
	// Collect are globs of files in /work returned after the run.
	Collect      []string `json:"collect"`
	CollectMax   int64    `json:"collect_max"`
	CollectTotal int64    `json:"collect_total"`
}

// initFile is one file for /work.
type initFile struct {
	Name string `json:"name"`
	Data []byte `json:"data"`
	Mode uint32 `json:"mode"`
}

// bindSpec is one read-only runtime path. A symlink on the host (such
// as /lib -> usr/lib on merged-/usr systems) is recreated as a symlink;
// anything else is bind-mounted from the fd the supervisor opened.
type bindSpec struct {
	Path    string `json:"path"`
	Symlink string `json:"symlink,omitempty"`
}
