//go:build linux && !cgo

package jail

// haveCInit: a binary built without cgo has no jail init (it is C:
// init_linux.c); New reports the jail unavailable and says why.
const haveCInit = false

func cConstants() ([]int, map[byte]byte, uint32, string) { return nil, nil, 0, "" }
