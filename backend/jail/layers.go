package jail

import (
	"fmt"
	"syscall"
)

// Layer names one protection (or setup step) of the jail. Setup failures
// travel from the init to the supervisor as a Layer code, a step number
// and an errno, never as text (see doc.go).
type Layer uint16

// The layers, in the order the init applies them.
const (
	LayerProtocol     Layer = iota + 1 // reading the config from the sync socket
	LayerNamespaces                    // clone flags, uid/gid maps, netns join
	LayerCgroup                        // memory, pids, cpu controllers
	LayerMounts                        // the private mount tree and read-only binds
	LayerProc                          // fresh /proc
	LayerDev                           // minimal /dev
	LayerTmpfs                         // size-capped /tmp, /work, /dev/shm
	LayerFiles                         // request files in /work, generated /etc
	LayerPivotRoot                     // pivot_root and detaching the old root
	LayerHostname                      // UTS hostname
	LayerCgroupNS                      // private cgroup namespace
	LayerRlimits                       // per-process limits
	LayerCapabilities                  // empty capability sets
	LayerNoNewPrivs                    // no_new_privs
	LayerLandlock                      // filesystem, TCP and scope rules
	LayerSeccomp                       // the syscall filter
	LayerExec                          // starting the program
	LayerCollect                       // collecting output files
)

var layerNames = map[Layer]string{
	LayerProtocol: "protocol", LayerNamespaces: "namespaces", LayerCgroup: "cgroup",
	LayerMounts: "mounts", LayerProc: "proc", LayerDev: "dev", LayerTmpfs: "tmpfs",
	LayerFiles: "files", LayerPivotRoot: "pivot_root", LayerHostname: "hostname",
	LayerCgroupNS: "cgroup_namespace", LayerRlimits: "rlimits", LayerCapabilities: "capabilities",
	LayerNoNewPrivs: "no_new_privs", LayerLandlock: "landlock", LayerSeccomp: "seccomp",
	LayerExec: "exec", LayerCollect: "collect",
}

func (l Layer) String() string {
	if n, ok := layerNames[l]; ok {
		return n
	}
	return fmt.Sprintf("layer(%d)", uint16(l))
}

// SetupError is a jail layer that could not be applied. The run does not
// happen (fail closed) and the result names the layer.
type SetupError struct {
	Layer Layer
	Step  uint16 // which item of the layer (a bind index, a file index), 0 if none
	Errno syscall.Errno
	// Detail is supervisor-side context (never text from the jail).
	Detail string
	// Err is the supervisor-side error that caused it, kept for errors.Is
	// and errors.As (never an error from the jail).
	Err error
}

func (e *SetupError) Error() string {
	s := fmt.Sprintf("jail layer %s could not be applied", e.Layer)
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	} else if e.Step > 0 {
		s += fmt.Sprintf(" (step %d)", e.Step)
	}
	switch {
	case e.Err != nil:
		s += ": " + e.Err.Error()
	case e.Errno != 0:
		s += ": " + e.Errno.Error()
	}
	return s
}

// Unwrap exposes the errno and the cause for errors.Is and errors.As.
func (e *SetupError) Unwrap() []error {
	var out []error
	if e.Errno != 0 {
		out = append(out, e.Errno)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}
