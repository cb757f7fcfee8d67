//go:build unix

package cgroup

import (
	"errors"
	"strconv"
	"strings"
	"syscall"
)

// OwnerPID parses "<pid>-<hex>", the supervisor's pid in a name this
// package (or a tier naming its own resources the same way) made.
func OwnerPID(name string) (int, bool) {
	p, rest, ok := strings.Cut(name, "-")
	if !ok || rest == "" || strings.Trim(rest, "0123456789abcdef") != "" {
		return 0, false
	}
	pid, err := strconv.Atoi(p)
	return pid, err == nil && pid > 0
}

// PIDAlive reports whether a process with this pid exists.
func PIDAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
