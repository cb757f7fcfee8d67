//go:build linux

package jail

// ChildRole is the argument that names the jail's init in its command
// line (sandrun-jail-init __child jail-init). The init itself is C
// (init_linux.c), started by a constructor before the Go runtime when
// the environment says so (init_linux.h: SRJ_ENV); it never reaches Go.
const ChildRole = "jail-init"

// Fds the supervisor passes to the init.
const (
	fdSync = 3 // the sync socket (doc.go)
	fdExe  = 4 // the init's own executable, exec'd through /proc/self/fd
)

// initEnv is the init's whole environment: the marker the C constructor
// looks for, with the sync socket's fd.
const initEnv = "SANDRUN_JAIL_INIT=3"

// ChildMain is reached when this binary's C init did not take the role:
// the warm path's zygote init, or a build without cgo (whose jail New
// reports unavailable), which fails. cmd/sandrun and the test binaries still dispatch the role here
// so that such a start ends at once with a clear code.
func ChildMain(_ []string) int {
	// The warm path's zygote init is Go (zygote_init_linux.go), started
	// without the C init's marker.
	if isZygoteInit() {
		return zygoteInitMain()
	}
	return 70
}
