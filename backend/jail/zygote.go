package jail

import _ "embed"

// zygotePython is the zygote program for lang.WarmFork languages
// (CPython): started by a zygote jail's init, it forks one child per run.
//
//go:embed zygote.py
var zygotePython string

// zygoteRange is how many host uids one zygote maps into its user
// namespace: its own (slot 0) and one per child it may have at once.
const zygoteRange = 1024

// Frames of the warm path, besides the jail's own (protocol_linux.go).
// On a zygote's channel:
const (
	zmsgReady byte = 'R' // zygote -> supervisor: started, JSON {"pid": n}
	zmsgNew   byte = 'N' // supervisor -> zygote: fork a run: JSON {"slot": k}; fds: run socket, stdin, stdout, stderr, cgroup files
)

// On a run's own socket (with msgError, msgStarted, msgExited, msgConfig,
// msgSignal):
const (
	zmsgHandle byte = 'H' // run's pid 1 -> supervisor: a pidfd of itself (SCM_RIGHTS)
	zmsgDone   byte = 'D' // supervisor -> run's pid 1: files collected, end
)

// zygoteConfig is the zygote jail's init's config (JSON, first frame
// on its sync socket, with the bind fds).
type zygoteConfig struct {
	Binds      []bindSpec `json:"binds"`
	Argv       []string   `json:"argv"`
	Env        []string   `json:"env"`
	Hostname   string     `json:"hostname"`
	UID        int        `json:"uid"`
	GID        int        `json:"gid"`
	WorkSize   int64      `json:"work_size"`
	WorkInodes int64      `json:"work_inodes"`
}

// warmConfig is a run's config, sent on the run's own socket to the
// child's pid 1 (never through the zygote, which holds no run's data).
// Policies are computed here, in Go, by the same code as the cold jail's;
// the child applies them mechanically.
type warmConfig struct {
	// File is the program's path inside; Args its arguments; Argv the
	// command line the cold jail would exec (sys.orig_argv).
	File string   `json:"file"`
	Args []string `json:"args"`
	Argv []string `json:"argv"`
	Env  []string `json:"env"`
	// Files are written into /work before the program starts.
	Files        []initFile `json:"files"`
	Hostname     string     `json:"hostname"`
	WorkSize     int64      `json:"work_size"`
	WorkInodes   int64      `json:"work_inodes"`
	ProcReadOnly []string   `json:"proc_read_only"`
	// Rlimits are [resource, soft, hard].
	Rlimits [][3]uint64 `json:"rlimits"`
	// Seccomp is the filter as struct sock_filter[] (nil: downgraded).
	Seccomp  []byte        `json:"seccomp,omitempty"`
	Landlock *warmLandlock `json:"landlock,omitempty"`
	// Sys are the system call numbers the child calls directly.
	Sys map[string]int `json:"sys"`
	// Runner names how the child runs the program (zygote.py RUNNERS;
	// empty: "file", as `python3 FILE ARGS`).
	Runner string `json:"runner,omitempty"`
}

// warmLandlock is the Landlock ruleset of the cold jail's policy.
type warmLandlock struct {
	MinABI   int        `json:"min_abi"`
	AttrSize int        `json:"attr_size"`
	FS       uint64     `json:"fs"`
	Net      uint64     `json:"net"`
	Scoped   uint64     `json:"scoped"`
	FileOnly uint64     `json:"file_only"`
	Rules    []warmRule `json:"rules"`
}

type warmRule struct {
	Path   string `json:"path"`
	Access uint64 `json:"access"`
}

// WarmStats counts what the warm path did.
type WarmStats struct {
	Forked    int64          `json:"forked"`    // runs served by a zygote's child
	Fallbacks int64          `json:"fallbacks"` // fork-language runs that ran cold (no zygote, no slot, zygote failure)
	Restarts  int64          `json:"restarts"`  // zygotes started after the first (failures, replacements)
	Ready     map[string]int `json:"ready"`     // free child slots per language with a ready zygote
}
