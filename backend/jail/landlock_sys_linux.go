//go:build linux

package jail

import "golang.org/x/sys/unix"

// Landlock's constants, as in include/uapi/linux/landlock.h, and the ABI
// query; the init (C) makes the other calls. They are written here rather
// than imported from go-landlock: its syscall package imports libcap's
// psx, which in a cgo build wraps pthread_create for the whole binary.

const (
	llAccessFSExecute = 1 << iota
	llAccessFSWriteFile
	llAccessFSReadFile
	llAccessFSReadDir
	llAccessFSRemoveDir
	llAccessFSRemoveFile
	llAccessFSMakeChar
	llAccessFSMakeDir
	llAccessFSMakeReg
	llAccessFSMakeSock
	llAccessFSMakeFifo
	llAccessFSMakeBlock
	llAccessFSMakeSym
	llAccessFSRefer
	llAccessFSTruncate
	llAccessFSIoctlDev
)

const (
	llAccessNetBindTCP    = 1 << 0
	llAccessNetConnectTCP = 1 << 1
	llScopeAbstractUnix   = 1 << 0
	llScopeSignal         = 1 << 1
)

// llRulesetAttr is struct landlock_ruleset_attr (its size by ABI tells
// the kernel which fields exist; the warm path sends it to the zygote).
// Only its size is read (warm_linux.go); the fields give it the layout.
type llRulesetAttr struct {
	//lint:ignore U1000 layout of the kernel's struct; only the size is used
	handledAccessFS uint64
	//lint:ignore U1000 layout of the kernel's struct; only the size is used
	handledAccessNet uint64
	//lint:ignore U1000 layout of the kernel's struct; only the size is used
	scoped uint64
}

// landlockABI returns the kernel's Landlock ABI version, 0 when absent.
func landlockABI() int {
	v, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if e != 0 {
		return 0
	}
	return int(v)
}
