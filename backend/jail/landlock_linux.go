//go:build linux

package jail

import "unsafe"

// Landlock is applied to the program alone: the init forks it and the
// child restricts itself before its exec (init_linux.c: apply_landlock),
// so the init stays outside the program's domain and scoped signals from
// the program cannot reach it. The policy is computed here, as data.

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
