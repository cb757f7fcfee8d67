//go:build linux

package jail

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The three Landlock system calls and their constants, as in
// include/uapi/linux/landlock.h. They are written here rather than
// imported from go-landlock: its syscall package imports libcap's psx,
// which in a cgo build wraps pthread_create for the whole binary, and the
// jail needs only these per-thread calls.

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
	llRulePathBeneath     = 1
	llRuleNetPort         = 2
)

type llRulesetAttr struct {
	handledAccessFS  uint64
	handledAccessNet uint64
	scoped           uint64
}

func llCreateRuleset(attr *llRulesetAttr, size uintptr, flags uintptr) (int, error) {
	r, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(attr)), size, flags)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// landlockABI returns the kernel's Landlock ABI version, 0 when absent.
func landlockABI() int {
	v, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if e != 0 {
		return 0
	}
	return int(v)
}

func llAddPathRule(ruleset int, access uint64, fd int) error {
	// struct landlock_path_beneath_attr is __attribute__((packed)).
	var buf [12]byte
	*(*uint64)(unsafe.Pointer(&buf[0])) = access
	*(*int32)(unsafe.Pointer(&buf[8])) = int32(fd)
	_, _, e := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(ruleset), llRulePathBeneath, uintptr(unsafe.Pointer(&buf[0])), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// llAddNetPortRule allows access (connect or bind) to one TCP port.
func llAddNetPortRule(ruleset int, access uint64, port uint16) error {
	// struct landlock_net_port_attr { __u64 allowed_access; __u64 port; }
	var buf [16]byte
	*(*uint64)(unsafe.Pointer(&buf[0])) = access
	*(*uint64)(unsafe.Pointer(&buf[8])) = uint64(port)
	_, _, e := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(ruleset), llRuleNetPort, uintptr(unsafe.Pointer(&buf[0])), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func llRestrictSelf(ruleset int) error {
	_, _, e := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(ruleset), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
