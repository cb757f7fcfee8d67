//go:build !linux

package process

import (
	"errors"
	"os/exec"

	"github.com/sandrun/sandrun"
)

// errUnsupported: the rlimits cannot be applied before the program runs on
// this OS, so the tier refuses to run (fail closed).
var errUnsupported = errors.New("the process tier needs Linux (rlimits are applied through ptrace and prlimit)")

func platformCheck() error { return errUnsupported }

func startLimited(*exec.Cmd, sandrun.Limits, bool, *identity) (int, func(), error) {
	return 0, nil, errUnsupported
}

func closeInheritedFDs() error { return errUnsupported }
