// Package beneath writes and reads files inside a directory that a
// running sandboxed program controls (a session's work directory, seen
// from the host as a plain path or as /proc/PID/root/work). The program
// can plant symlinks and hard links there, or swap a directory for a
// symlink between our check and our open, to make the supervisor (often
// root) write or read a host file. Every open here resolves the path with
// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
// RESOLVE_NO_XDEV) from a descriptor of the directory itself, so a path
// with any symlink in it is refused whenever the swap happens; files with
// more than one link are refused for writing.
package beneath

import (
	"errors"
)

// ErrUnsafe is returned for a path the program turned into a trap.
var ErrUnsafe = errors.New("unsafe path in the work directory")

// CollectLimits bound Collect.
type CollectLimits struct {
	MaxFiles int   // default sandrun.MaxCollectFiles (one more entry says more matched)
	MaxFile  int64 // default 1 MiB
	MaxTotal int64 // default 8 MiB
}
