//go:build !linux

package seccompprofile

import (
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// errNotLinux: the profile is resolved against this host's architecture
// and kernel with Docker's own (Linux-only) profile code. A container
// tier that cannot build it refuses to run (fail closed).
var errNotLinux = errors.New("the container tiers' hardened seccomp profile is built on Linux only")

// Hardened is unavailable off Linux.
func Hardened(Options) (*specs.LinuxSeccomp, error) { return nil, errNotLinux }

// JSON is unavailable off Linux.
func JSON(Options) (string, error) { return "", errNotLinux }
