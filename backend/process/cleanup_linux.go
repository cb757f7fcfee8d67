//go:build linux

package process

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// sharedDirs are the host directories every uid may write to. A run's
// uid can leave files nowhere else but its work dir (removed with it):
// these are walked after every run (and before a uid is reused) for what
// the uid left. /dev/mqueue is POSIX message queues, when mounted.
func sharedDirs() []string {
	return []string{"/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue"}
}

// maxDepth bounds the walk: a uid can only nest its own files inside
// directories it owns (removed whole), or inside world-writable
// directories of others, which are few and shallow.
const maxDepth = 8

// sharedLeftovers walks the shared directories for entries whose owner
// uid matches, descending only into world-writable directories owned by
// someone else (the only places another uid can create entries). It
// returns the topmost matching entries per uid.
func sharedLeftovers(match func(uint32) bool) map[uint32][]string {
	out := map[uint32][]string{}
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range ents {
			p := filepath.Join(dir, e.Name())
			fi, err := e.Info() // lstat: a symlink is judged as itself
			if err != nil {
				continue
			}
			st, ok := fi.Sys().(*syscall.Stat_t)
			if !ok {
				continue
			}
			if match(st.Uid) {
				out[st.Uid] = append(out[st.Uid], p)
				continue
			}
			if fi.IsDir() && fi.Mode().Perm()&0o002 != 0 && depth < maxDepth {
				walk(p, depth+1)
			}
		}
	}
	for _, d := range sharedDirs() {
		walk(d, 0)
	}
	return out
}

// removeAll removes the paths (never following a symlink: os.RemoveAll
// opens with O_NOFOLLOW) and returns how many went.
func removeAll(paths []string) int {
	n := 0
	for _, p := range paths {
		if os.RemoveAll(p) == nil {
			n++
		}
	}
	return n
}

// removeIPC removes the System V shared memory segments, semaphore sets
// and message queues that uid owns or created: they outlive processes
// and the next run under the uid would find them. It reports whether all
// went.
func removeIPC(uid uint32) bool {
	ok := true
	for _, t := range []struct {
		file string
		rm   func(id int) error
	}{
		{"/proc/sysvipc/shm", func(id int) error { _, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil); return err }},
		{"/proc/sysvipc/sem", func(id int) error {
			if _, _, e := unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), 0, unix.IPC_RMID, 0, 0, 0); e != 0 {
				return e
			}
			return nil
		}},
		{"/proc/sysvipc/msg", func(id int) error {
			if _, _, e := unix.Syscall(unix.SYS_MSGCTL, uintptr(id), unix.IPC_RMID, 0); e != 0 {
				return e
			}
			return nil
		}},
	} {
		for _, id := range ipcOwnedBy(t.file, uid) {
			if err := t.rm(id); err != nil && err != unix.EINVAL && err != unix.EIDRM {
				ok = false
			}
		}
	}
	return ok
}

// ipcOwnedBy reads a /proc/sysvipc table: a header naming the columns,
// then one object a line. The id column is shmid, semid or msqid.
func ipcOwnedBy(file string, uid uint32) []int {
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return nil
	}
	col := map[string]int{}
	for i, h := range strings.Fields(sc.Text()) {
		col[h] = i
	}
	idCol := -1
	for _, k := range []string{"shmid", "semid", "msqid"} {
		if i, ok := col[k]; ok {
			idCol = i
		}
	}
	uidCol, okU := col["uid"]
	cuidCol, okC := col["cuid"]
	if idCol < 0 || !okU || !okC {
		return nil
	}
	want := strconv.FormatUint(uint64(uid), 10)
	var ids []int
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) <= max(idCol, uidCol, cuidCol) || (f[uidCol] != want && f[cuidCol] != want) {
			continue
		}
		if id, err := strconv.Atoi(f[idCol]); err == nil {
			ids = append(ids, id)
		}
	}
	return ids
}
