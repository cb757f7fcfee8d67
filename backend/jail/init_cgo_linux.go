//go:build linux && cgo

package jail

/*
#include "init_linux.h"
*/
import "C"

// haveCInit: this binary carries the C init (init_linux.c), which a
// constructor runs before the Go runtime when SANDRUN_JAIL_INIT is set.
const haveCInit = true

// cConstants are the C init's codes, for TestCLayerCodes.
func cConstants() (layers []int, kinds map[byte]byte, magic uint32, env string) {
	layers = []int{
		C.SRJ_LAYER_PROTOCOL, C.SRJ_LAYER_NAMESPACES, C.SRJ_LAYER_CGROUP, C.SRJ_LAYER_MOUNTS,
		C.SRJ_LAYER_PROC, C.SRJ_LAYER_DEV, C.SRJ_LAYER_TMPFS, C.SRJ_LAYER_FILES,
		C.SRJ_LAYER_PIVOT_ROOT, C.SRJ_LAYER_HOSTNAME, C.SRJ_LAYER_CGROUP_NS, C.SRJ_LAYER_RLIMITS,
		C.SRJ_LAYER_CAPABILITIES, C.SRJ_LAYER_NO_NEW_PRIVS, C.SRJ_LAYER_LANDLOCK, C.SRJ_LAYER_SECCOMP,
		C.SRJ_LAYER_EXEC, C.SRJ_LAYER_COLLECT,
	}
	kinds = map[byte]byte{
		msgError: C.SRJ_MSG_ERROR, msgStarted: C.SRJ_MSG_STARTED, msgExited: C.SRJ_MSG_EXITED,
		msgProgress: C.SRJ_MSG_PROGRESS, msgConfig: C.SRJ_MSG_CONFIG, msgSignal: C.SRJ_MSG_SIGNAL,
		msgDone: C.SRJ_MSG_DONE,
	}
	flags := []uint32{C.SRJ_FLAG_NO_SECCOMP, C.SRJ_FLAG_NO_LANDLOCK, C.SRJ_FLAG_LANDLOCK_PARTIAL, C.SRJ_FLAG_WAIT_DONE, C.SRJ_FLAG_SET_IDS}
	if flags[0] != flagNoSeccomp || flags[1] != flagNoLandlock || flags[2] != flagLandlockPartial || flags[3] != flagWaitDone || flags[4] != flagSetIDs {
		magic = 0 // the test reports the mismatch
		return
	}
	return layers, kinds, C.SRJ_CONFIG_MAGIC, C.SRJ_ENV
}
