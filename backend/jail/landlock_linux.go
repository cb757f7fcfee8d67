//go:build linux

package jail

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Landlock is applied to one thread only: the init restricts the thread
// that forks the program, so that the init itself stays outside the
// program's domain and scoped signals from the program cannot reach it.

// llRights are the access masks of the policy for one ABI.
type llRights struct {
	handledFS, handledNet, scoped uint64
	readExec, read, dev, rw       uint64
}

// fileOnly are the rights that apply to a file (a rule on a file with
// directory rights is rejected by the kernel).
const fileOnly = llAccessFSExecute | llAccessFSWriteFile | llAccessFSReadFile |
	llAccessFSTruncate | llAccessFSIoctlDev

func rightsFor(abi int) llRights {
	var r llRights
	r.handledFS = (1 << 13) - 1 // ABI 1: execute .. make_sym
	if abi >= 2 {
		r.handledFS |= llAccessFSRefer
	}
	if abi >= 3 {
		r.handledFS |= llAccessFSTruncate
	}
	if abi >= 5 {
		r.handledFS |= llAccessFSIoctlDev
	}
	if abi >= 4 {
		// Network is off: handle TCP bind and connect and allow no port.
		r.handledNet = llAccessNetBindTCP | llAccessNetConnectTCP
	}
	if abi >= 6 {
		r.scoped = llScopeAbstractUnix | llScopeSignal
	}
	r.readExec = llAccessFSExecute | llAccessFSReadFile | llAccessFSReadDir
	r.read = llAccessFSReadFile | llAccessFSReadDir
	r.dev = (llAccessFSReadFile | llAccessFSWriteFile | llAccessFSReadDir | llAccessFSTruncate | llAccessFSIoctlDev) & r.handledFS
	r.rw = r.handledFS &^ (llAccessFSMakeChar | llAccessFSMakeBlock | llAccessFSIoctlDev)
	return r
}

// llPath is one rule: a path inside the jail and its rights.
type llPath struct {
	path   string
	access uint64
}

// landlockPolicy lists the rules for the jail's view (after pivot_root).
func landlockPolicy(r llRights, runtime []string) []llPath {
	var ps []llPath
	for _, p := range runtime {
		ps = append(ps, llPath{p, r.readExec})
	}
	return append(ps,
		// Listing directories is harmless in a view that holds only the
		// jail's own tree; reading and executing are not granted here.
		llPath{"/", llAccessFSReadDir},
		llPath{"/etc", r.read},
		llPath{"/proc", r.read},
		llPath{"/dev", r.dev},
		llPath{"/dev/shm", r.rw},
		llPath{"/tmp", r.rw},
		llPath{"/work", r.rw},
	)
}

// llAttrSize is the ruleset attribute's size for an ABI: the size tells
// the kernel which fields exist, and older ABIs know only the first one
// or two.
func llAttrSize(abi int) uintptr {
	switch {
	case abi < 4:
		return 8
	case abi < 6:
		return 16
	}
	return unsafe.Sizeof(llRulesetAttr{})
}

// applyLandlock restricts the calling thread with the rules. connect
// lists the TCP ports the program may connect to (the proxy's, for a run
// with a network allowlist); none otherwise.
func applyLandlock(abi int, rules []llPath, r llRights, connect ...uint16) (uint16, error) {
	attr := llRulesetAttr{handledAccessFS: r.handledFS, handledAccessNet: r.handledNet, scoped: r.scoped}
	fd, err := llCreateRuleset(&attr, llAttrSize(abi), 0)
	if err != nil {
		return 1, err
	}
	defer unix.Close(fd)
	for i, rule := range rules {
		pfd, err := unix.Open(rule.path, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			if err == unix.ENOENT {
				continue // an optional path the view does not have
			}
			return uint16(10 + i), err
		}
		var st unix.Stat_t
		access := rule.access
		if unix.Fstat(pfd, &st) == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			access &= fileOnly
		}
		err = llAddPathRule(fd, access, pfd)
		unix.Close(pfd)
		if err != nil {
			return uint16(10 + i), fmt.Errorf("%s: %w", rule.path, err)
		}
	}
	for i, port := range connect {
		if port == 0 || r.handledNet == 0 {
			continue
		}
		if err := llAddNetPortRule(fd, llAccessNetConnectTCP, port); err != nil {
			return uint16(200 + i), fmt.Errorf("tcp connect port %d: %w", port, err)
		}
	}
	if err := llRestrictSelf(fd); err != nil {
		return 2, err
	}
	return 0, nil
}
