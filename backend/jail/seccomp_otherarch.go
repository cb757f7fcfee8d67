//go:build linux && !amd64 && !arm64

package jail

// No policy for this architecture: buildFilter fails and the seccomp
// layer fails closed (unless downgraded).
const (
	auditArch = 0
	x32Bit    = 0
)

var sysnums = map[string]uintptr{}
