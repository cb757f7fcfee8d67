//go:build linux && cgo

package jail

/*
#include <stdlib.h>
#include "spawn_linux.h"
*/
import "C"

import (
	"fmt"
	"syscall"
	"unsafe"
)

// vforkSpawn starts the init with clone3(CLONE_VM|CLONE_VFORK) from C
// (spawn_linux.c): the supervisor's memory is not copied. It must run on
// a locked OS thread, the one the init's PDEATHSIG follows. It returns
// the pid once the init has exec'd; errNoVfork (wrapped) where clone3 or
// this architecture does not allow it.
func vforkSpawn(sp *initSpawn) (int, error) {
	if len(sp.fds) > C.SRJ_SPAWN_MAX_FDS || len(sp.tasks) > C.SRJ_SPAWN_MAX_FDS {
		return -1, fmt.Errorf("jail: %d descriptors and %d cgroup files: at most %d each", len(sp.fds), len(sp.tasks), C.SRJ_SPAWN_MAX_FDS)
	}
	// C memory: the child reads it while the Go heap may move on.
	s := (*C.struct_srj_spawn)(C.calloc(1, C.size_t(unsafe.Sizeof(C.struct_srj_spawn{}))))
	defer C.free(unsafe.Pointer(s))
	s.flags = C.uint64_t(sp.flags)
	s.cgroup = -1
	if sp.cgroupFD >= 0 {
		s.flags |= C.uint64_t(cloneIntoCgroup)
		s.cgroup = C.int(sp.cgroupFD)
	}
	s.nfds = C.int(len(sp.fds))
	for i, fd := range sp.fds {
		s.fds[i] = C.int(fd)
	}
	s.ntasks = C.int(len(sp.tasks))
	for i, fd := range sp.tasks {
		s.tasks[i] = C.int(fd)
	}
	for _, c := range sp.ambientCaps {
		s.ambient |= 1 << c
	}
	path := C.CString(sp.path)
	defer C.free(unsafe.Pointer(path))
	argv, envp := cStrings(sp.argv), cStrings(sp.envp)
	defer freeCStrings(argv, len(sp.argv))
	defer freeCStrings(envp, len(sp.envp))
	s.path, s.argv, s.envp = path, argv, envp
	// No descriptor created without close-on-exec elsewhere in this
	// process may reach the child (os/exec holds the same lock).
	syscall.ForkLock.Lock()
	pid := int(C.srj_spawn(s))
	syscall.ForkLock.Unlock()
	if s.err != 0 {
		if pid > 0 {
			var ws syscall.WaitStatus
			for {
				if _, err := syscall.Wait4(pid, &ws, 0, nil); err != syscall.EINTR {
					break
				}
			}
		}
		err := &spawnError{step: int(s.step), errno: syscall.Errno(s.err)}
		if err.step == C.SRJ_STEP_CLONE && (err.errno == syscall.ENOSYS || err.errno == syscall.EPERM) {
			// No clone3 (an old kernel, or a seccomp profile that
			// answers ENOSYS or EPERM for it, as container runtimes'
			// do): os/exec falls back to clone.
			return -1, fmt.Errorf("%w: %w", errNoVfork, err)
		}
		return -1, err
	}
	return pid, nil
}

// cloneIntoCgroup is CLONE_INTO_CGROUP (Linux 5.7), missing from older
// headers.
const cloneIntoCgroup = 0x200000000

// cStrings is a NULL-terminated array of C strings in C memory (the
// cgo rules keep Go pointers out of C memory); freeCStrings frees it.
func cStrings(ss []string) **C.char {
	a := (**C.char)(C.calloc(C.size_t(len(ss)+1), C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	v := unsafe.Slice(a, len(ss)+1)
	for i, s := range ss {
		v[i] = C.CString(s)
	}
	return a
}

func freeCStrings(a **C.char, n int) {
	for _, c := range unsafe.Slice(a, n+1) {
		if c != nil {
			C.free(unsafe.Pointer(c))
		}
	}
	C.free(unsafe.Pointer(a))
}
