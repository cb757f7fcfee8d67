package sandrun

import (
	"context"
	"io"
	"os"
)

// LaunchSpec asks a backend for a long-lived sandboxed process whose
// standard streams the caller drives: the building block of sessions and
// warm pools. The process gets every protection a one-shot run gets.
type LaunchSpec struct {
	// Language selects the interpreter; Args follow the interpreter path
	// (for example a driver program: ["-u", "-c", driver]).
	Language string
	Args     []string
	// Files are written into the work directory before the start.
	Files []InputFile
	// Env is the explicit allowlist, as in Request.
	Env map[string]string
	// Limits apply to the whole life of the process (memory and pids to
	// the whole tree; WallTime is the maximum lifetime).
	Limits Limits
	// Network is what the process may reach, for its whole life (a
	// session's policy). A launcher that cannot enforce an allowlist
	// (not a NetworkEnforcer) refuses a spec that sets one.
	Network NetworkPolicy
}

// Launched is a running sandboxed process.
type Launched interface {
	Stdin() io.Writer
	Stdout() io.Reader
	Stderr() io.Reader
	// Signal sends sig to the program (SIGINT to interrupt a step).
	Signal(sig os.Signal) error
	// SetLimits tightens the limits of a process that is already running
	// (a warm pool applies the request's limits when a process is taken).
	SetLimits(l Limits) error
	// Kill ends the whole process tree; Wait then returns.
	Kill() error
	// Wait waits for the end and reports it; it releases everything.
	Wait() (*LaunchExit, error)
	// WorkDir is the host path of the process's /work (for collecting
	// files), or "" when it is not visible from the host.
	WorkDir() string
}

// LaunchExit is how a launched process ended.
type LaunchExit struct {
	Status   Status // ok, exit_error, memory_limit, timeout, signaled...
	ExitCode int
	Signal   string
	Error    string
	Usage    Usage
}

// UsageReporter is implemented by launched processes that can say what
// they have used so far: CPU time (cpu_ms) and peak memory
// (memory_peak_bytes) since the launch, and for a process with a network
// allowlist its proxy's record (network). Sessions report each step's CPU
// time and network traffic as the difference across the step, and the
// peak so far.
type UsageReporter interface {
	UsageSoFar() Usage
}

// Launcher is implemented by backends that can host long-lived processes.
type Launcher interface {
	Launch(ctx context.Context, spec *LaunchSpec) (Launched, error)
}

// Diagnostic is one line of `sandrun doctor`: a host capability or a
// dependency, whether it works, and why not.
type Diagnostic struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	// Warn marks a problem that does not stop runs (an audit log that
	// lost records): shown as a warning, not a failure.
	Warn bool `json:"warn,omitempty"`
}

// Diagnoser is implemented by backends (and stores) that can explain the
// host to `sandrun doctor`.
type Diagnoser interface {
	Diagnose(ctx context.Context) []Diagnostic
}
