package sandrun

import (
	"time"

	"github.com/sandrun/sandrun/internal/display"
)

// Display is one item a program showed, in one format (display.Item):
// mime, data (text, or base64 with encoding "base64"), size, width and
// height of an image, the output it belongs to, its source ("figure" or
// "value").
type Display = display.Item

// Status is the outcome of a run. It is a value, not an error: a program
// that hits its memory limit is a normal, reported outcome. Only
// StatusInternalError means the sandbox itself failed.
type Status string

// The statuses, exactly as the contract in docs/ARCHITECTURE.md lists them.
const (
	StatusOK            Status = "ok"              // exited 0
	StatusExitError     Status = "exit_error"      // exited non-zero
	StatusTimeout       Status = "timeout"         // wall-clock limit
	StatusCPULimit      Status = "cpu_limit"       // CPU-time limit
	StatusMemoryLimit   Status = "memory_limit"    // memory limit (OOM kill or allocation failure)
	StatusOutputLimit   Status = "output_limit"    // stdout or stderr cap exceeded
	StatusFileSizeLimit Status = "file_size_limit" // a file grew past the file-size limit
	StatusSignaled      Status = "signaled"        // killed by a signal sandrun did not send
	StatusNetworkLimit  Status = "network_limit"   // network traffic cap exceeded (network.go)
	StatusCompileError  Status = "compile_error"   // the code does not parse or compile
	StatusRejected      Status = "rejected"        // refused before running: bad request, static limits, a full server
	StatusInternalError Status = "internal_error"  // the sandbox failed; fail closed
	StatusCancelled     Status = "cancelled"       // stopped before it finished: the caller left or the server shut down
)

// AllStatuses lists every status, in documentation order.
func AllStatuses() []Status {
	return []Status{
		StatusOK, StatusExitError, StatusTimeout, StatusCPULimit, StatusMemoryLimit,
		StatusOutputLimit, StatusFileSizeLimit, StatusSignaled, StatusCompileError,
		StatusRejected, StatusInternalError, StatusCancelled, StatusNetworkLimit,
	}
}

// Result is what every backend returns. JSON field names are the public
// contract (snake_case) shared by the CLI, the HTTP API and MCP.
type Result struct {
	ID       string `json:"id"`
	Backend  string `json:"backend"`
	Language string `json:"language"`
	Status   Status `json:"status"`
	Success  bool   `json:"success"`
	// ExitCode is the program's exit code, or -1 when it did not exit
	// normally (killed by a signal, never started).
	ExitCode int `json:"exit_code"`
	// Signal names the signal that ended the program ("SIGKILL"), if any.
	Signal string `json:"signal,omitempty"`
	// Error is a message a person understands; empty when Status is ok.
	Error string `json:"error,omitempty"`

	Stdout          string `json:"stdout"`
	Stderr          string `json:"stderr"`
	StdoutTruncated bool   `json:"stdout_truncated"`
	StderrTruncated bool   `json:"stderr_truncated"`
	// StdoutEncoding and StderrEncoding say how Stdout and Stderr hold
	// the program's bytes in this value: "" (as they are) or "base64".
	// A Result made in this process holds them as they are; its JSON
	// form (MarshalJSON) carries output that is not valid UTF-8 as
	// base64 with the encoding set, since a JSON string cannot hold it
	// (encoding/json would replace it with U+FFFD). See output.go.
	StdoutEncoding string `json:"stdout_encoding,omitempty"`
	StderrEncoding string `json:"stderr_encoding,omitempty"`

	Sanitized  bool        `json:"sanitized"`
	Detections []Detection `json:"detections"`

	Usage     Usage          `json:"usage"`
	Files     []OutputFile   `json:"files,omitempty"`
	Variables map[string]any `json:"variables,omitempty"`
	// Display is what the program showed beyond its output streams, in
	// the order it showed it: matplotlib figures (PNG, SVG on request)
	// and a session step's last value (text, HTML for a table), Jupyter's
	// outputs as a flat list of {mime, data} items (internal/display).
	Display []Display `json:"display,omitempty"`

	// FilesTruncated says more files matched the collect patterns than
	// MaxCollectFiles; the first ones by name were returned.
	FilesTruncated bool `json:"files_truncated,omitempty"`

	// Downgrades lists protections an operator explicitly turned off for
	// this run. Empty on a fully protected run.
	Downgrades []string `json:"downgrades,omitempty"`
	// Warnings are notes about the run that are not failures (for
	// example: auto fell back to a weaker tier).
	Warnings []string `json:"warnings,omitempty"`

	CodeSHA256 string    `json:"code_sha256"`
	StartedAt  time.Time `json:"started_at"`

	// Session is the id of the session this run was a step of; empty for
	// a one-shot run.
	Session string `json:"session,omitempty"`
}

// Usage is what the run consumed.
type Usage struct {
	// WallMs is the program's wall time, from its start (after the
	// sandbox's setup) to its end; the wall-clock limit counts the same.
	WallMs          int64 `json:"wall_ms"`
	CPUMs           int64 `json:"cpu_ms"`
	MemoryPeakBytes int64 `json:"memory_peak_bytes"`
	// SetupMs is the time the tier spent preparing the sandbox before
	// the program started (the jail: namespaces, cgroup, mounts,
	// Landlock, seccomp); bounded by the tier, not by the wall limit.
	// Omitted by tiers that do not measure it.
	SetupMs int64 `json:"setup_ms,omitempty"`
	// Network is set when the run had a network allowlist: what it
	// reached and what was refused.
	Network *NetworkUsage `json:"network,omitempty"`
}

// Detection reports that the sanitizer redacted something. It never
// carries the secret itself.
type Detection struct {
	Rule   string `json:"rule"`
	Stream string `json:"stream"` // "stdout", "stderr" or a file name
	Count  int    `json:"count"`
}

// OutputFile is a file collected from the work directory after the run.
type OutputFile struct {
	Name      string `json:"name"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	Content   []byte `json:"content"` // base64 in JSON
	Truncated bool   `json:"truncated,omitempty"`
}

// Finish sets Success from Status and, when the backend left Error empty,
// a default human message for the status. The pipeline calls it last,
// after the sanitizer; backends need not.
func (r *Result) Finish() {
	r.Success = r.Status == StatusOK
	if r.Error == "" && r.Status != StatusOK {
		r.Error = DefaultMessage(r.Status)
	}
	if r.Detections == nil {
		r.Detections = []Detection{}
	}
}

// DefaultMessage is the human message used when a backend has nothing more
// specific to say.
func DefaultMessage(s Status) string {
	switch s {
	case StatusExitError:
		return "the program exited with a non-zero code"
	case StatusTimeout:
		return "the program ran past its wall-clock limit and was killed"
	case StatusCPULimit:
		return "the program used more CPU time than its limit and was killed"
	case StatusMemoryLimit:
		return "the program ran out of its memory limit"
	case StatusOutputLimit:
		return "the program wrote more output than its limit and was killed"
	case StatusFileSizeLimit:
		return "the program tried to write a file larger than its file-size limit"
	case StatusSignaled:
		return "the program was killed by a signal"
	case StatusCompileError:
		return "the code could not be compiled"
	case StatusRejected:
		return "the request was refused before running"
	case StatusInternalError:
		return "the sandbox failed; the code was not run or its run was stopped"
	case StatusCancelled:
		return "the run was stopped before it finished"
	case StatusNetworkLimit:
		return "the program went past its network traffic limit and was killed"
	}
	return ""
}
