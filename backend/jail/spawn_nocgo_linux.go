//go:build linux && !cgo

package jail

// vforkSpawn needs cgo (spawn_linux.c); without cgo there is no jail init
// either, and New reports the jail unavailable.
func vforkSpawn(*initSpawn) (int, error) { return -1, errNoVfork }
