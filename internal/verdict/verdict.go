// Package verdict turns what happened to a process (how it ended, why the
// supervisor killed it, what it used) into a sandrun Status with a message
// a person understands. Every OS-level backend shares it, so one outcome
// gets one status whatever the tier.
package verdict

import (
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/sandrun/sandrun"
	"golang.org/x/sys/unix"
)

// Kill records why the supervisor killed the program, if it did. The first
// reason set wins: a program killed for output is not later called a
// timeout because its process group died slowly.
type Kill int

// Reasons for a supervisor kill.
const (
	KillNone Kill = iota
	KillTimeout
	KillOutput
	KillMemory  // the cgroup's OOM killer, or a memory watchdog
	KillCPU     // CPU accounting past the limit (cgroup tiers)
	KillCancel  // the caller cancelled the context
	KillNetwork // a network traffic cap (the proxy's); Facts.Network says which
)

// Facts are everything the verdict depends on.
type Facts struct {
	// Exited, ExitCode and Signal describe how the process ended.
	Exited   bool
	ExitCode int
	Signal   syscall.Signal
	// Killed is why the supervisor killed it (KillNone if it did not).
	Killed Kill
	// OOMKilled is set when a cgroup reported an OOM kill during the run.
	OOMKilled bool
	// Stderr is searched for the language's allocation-failure markers
	// (tiers without a cgroup OOM counter).
	Stderr     string
	OOMMarkers []string
	// CPU used, for telling a CPU-limit SIGKILL from another one.
	CPU    time.Duration
	Limits sandrun.Limits
	// Stream names the stream that overflowed, for the message.
	Stream string
	// Network describes the network cap that was hit (KillNetwork).
	Network string
}

// Decide fills res.Status, ExitCode, Signal and Error from f.
func Decide(f Facts, res *sandrun.Result) {
	res.ExitCode = -1
	res.Signal = ""
	if f.Exited {
		res.ExitCode = f.ExitCode
	} else if f.Signal != 0 {
		res.Signal = unix.SignalName(f.Signal)
	}
	lim := f.Limits
	switch {
	case f.Killed == KillOutput:
		res.Status = sandrun.StatusOutputLimit
		res.Error = fmt.Sprintf("the program wrote more than %s to %s and was killed", lim.Output, orDefault(f.Stream, "its output"))
	case f.Killed == KillNetwork:
		res.Status = sandrun.StatusNetworkLimit
		res.Error = "the program went past its network limit (" + orDefault(f.Network, "traffic") + ") and was killed"
	case f.Killed == KillTimeout:
		res.Status = sandrun.StatusTimeout
		res.Error = fmt.Sprintf("the program ran longer than its wall-clock limit of %s and was killed", lim.WallTime)
	case f.Killed == KillCancel:
		res.Status = sandrun.StatusTimeout
		res.Error = "the run was cancelled by the caller and the program was killed"
	case f.OOMKilled || f.Killed == KillMemory:
		res.Status = sandrun.StatusMemoryLimit
		res.Error = fmt.Sprintf("the program used more than its memory limit of %s and was killed", lim.Memory)
	case f.Signal == syscall.SIGXCPU || f.Killed == KillCPU ||
		(f.Signal == syscall.SIGKILL && lim.CPUTime > 0 && f.CPU >= lim.CPUTime.D()):
		res.Status = sandrun.StatusCPULimit
		res.Error = fmt.Sprintf("the program used more than its CPU-time limit of %s and was killed", lim.CPUTime)
	case f.Signal == syscall.SIGXFSZ:
		res.Status = sandrun.StatusFileSizeLimit
		res.Error = fmt.Sprintf("the program tried to write a file larger than its file-size limit of %s", lim.FileSize)
	case !f.Exited && f.Signal != 0:
		res.Status = sandrun.StatusSignaled
		res.Error = fmt.Sprintf("the program was killed by %s", unix.SignalName(f.Signal))
		if f.Signal == syscall.SIGSYS {
			res.Error += " (a system call the sandbox forbids)"
		}
		if hasMarker(f.Stderr, f.OOMMarkers) {
			res.Status = sandrun.StatusMemoryLimit
			res.Error = fmt.Sprintf("the program could not allocate memory within its limit of %s", lim.Memory)
		}
	case f.Exited && f.ExitCode == 0:
		res.Status = sandrun.StatusOK
		res.Error = ""
	case hasMarker(f.Stderr, fileSizeMarkers):
		// Python and node ignore SIGXFSZ and fail the write with EFBIG.
		res.Status = sandrun.StatusFileSizeLimit
		res.Error = fmt.Sprintf("the program tried to write a file larger than its file-size limit of %s", lim.FileSize)
	case hasMarker(f.Stderr, f.OOMMarkers):
		res.Status = sandrun.StatusMemoryLimit
		res.Error = fmt.Sprintf("the program could not allocate memory within its limit of %s", lim.Memory)
	default:
		res.Status = sandrun.StatusExitError
		res.Error = fmt.Sprintf("the program exited with code %d", f.ExitCode)
	}
}

// fileSizeMarkers are what runtimes that ignore SIGXFSZ print when a write
// fails with EFBIG.
// A shell reports a child killed by SIGXFSZ with bash's own message.
var fileSizeMarkers = []string{"[Errno 27] File too large", "EFBIG", "File size limit exceeded"}

func hasMarker(stderr string, markers []string) bool {
	for _, m := range markers {
		if m != "" && strings.Contains(stderr, m) {
			return true
		}
	}
	return false
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
