//go:build linux

package jail

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// The zygote jail's view, built by its init: the cold jail's view (the
// read-only runtime binds, /dev, /etc, size-capped /tmp and /work,
// pivot_root, a read-only root) with one difference: /proc is a plain
// procfs. Each child mounts a procfs of its own over it, with the
// read-only parts (warmProcReadOnly); the kernel lets a user namespace
// mount a procfs only while an unobstructed one is visible in its mount
// namespace. The zygote itself runs no user code.
//
// This is the zygote's own copy of the view (the cold jail's init builds
// it too): the zygote starts once per language and server, so it is kept
// apart from the cold init's hot path.

// zfail is a failure of the zygote's init: a layer, a step, an errno.
type zfail struct {
	layer Layer
	step  int
	err   error
}

func zerr(l Layer, step int, err error) *zfail { return &zfail{l, step, err} }

// warmProcReadOnly are the kernel-tunable parts of /proc every child makes
// read-only in its own procfs, as the cold jail does.
var warmProcReadOnly = []string{"sys", "sysrq-trigger", "irq", "bus", "fs", "acpi", "scsi"}

// zygoteView builds the view under newRoot and pivots into it. fds are the
// bind sources, one per non-symlink bind, in order.
func zygoteView(cfg *zygoteConfig, fds []int) *zfail {
	const root = "/tmp"
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return zerr(LayerMounts, 1, err)
	}
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=1m,nr_inodes=4096"); err != nil {
		return zerr(LayerMounts, 2, err)
	}
	for _, d := range []string{"proc", "dev", "tmp", "work", "etc"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			return zerr(LayerMounts, 3, err)
		}
	}
	small := fmt.Sprintf("mode=0755,size=%d,nr_inodes=%d", cfg.WorkSize, cfg.WorkInodes)
	for i, d := range []string{"tmp", "work"} {
		if err := unix.Mount("tmpfs", filepath.Join(root, d), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, small); err != nil {
			return zerr(LayerTmpfs, i+1, err)
		}
	}
	fdi := 0
	for i, b := range cfg.Binds {
		target := filepath.Join(root, b.Path)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return zerr(LayerMounts, 100+i, err)
		}
		if b.Symlink != "" {
			if err := os.Symlink(b.Symlink, target); err != nil && !os.IsExist(err) {
				return zerr(LayerMounts, 100+i, err)
			}
			continue
		}
		if fdi >= len(fds) {
			return zerr(LayerMounts, 100+i, unix.EBADF)
		}
		if err := zbind(fds[fdi], target); err != nil {
			return zerr(LayerMounts, 100+i, err)
		}
		fdi++
	}
	etc := map[string]string{
		"passwd":   fmt.Sprintf("root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:%d:%d:sandbox:/work:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n", cfg.UID, cfg.GID),
		"group":    fmt.Sprintf("root:x:0:\nsandbox:x:%d:\nnogroup:x:65534:\n", cfg.GID),
		"hostname": cfg.Hostname + "\n",
		"hosts":    "127.0.0.1\tlocalhost " + cfg.Hostname + "\n::1\tlocalhost\n",
	}
	for n, c := range etc {
		p := filepath.Join(root, "etc", n)
		if _, err := os.Lstat(p); err == nil {
			continue // a runtime bind provides it
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			return zerr(LayerFiles, 1, err)
		}
	}
	if f := zygoteDev(filepath.Join(root, "dev"), small); f != nil {
		return f
	}
	if err := unix.Mount("proc", filepath.Join(root, "proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return zerr(LayerProc, 1, err)
	}
	for i, step := range []func() error{
		func() error { return unix.Chdir(root) },
		func() error { return unix.PivotRoot(".", ".") },
		func() error { return unix.Unmount(".", unix.MNT_DETACH) },
		func() error { return unix.Chdir("/") },
		func() error {
			return zattr("/", unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, false)
		},
	} {
		if err := step(); err != nil {
			return zerr(LayerPivotRoot, i+1, err)
		}
	}
	return nil
}

// zbind bind-mounts the source fd on target (made like the source) and
// makes the subtree read-only, nosuid and nodev.
func zbind(fd int, target string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
	} else if err := os.WriteFile(target, nil, 0o644); err != nil {
		return err
	}
	if err := unix.Mount("/proc/self/fd/"+strconv.Itoa(fd), target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	return zattr(target, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, true)
}

func zattr(p string, attr uint64, recursive bool) error {
	flags := unix.AT_SYMLINK_NOFOLLOW
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	return unix.MountSetattr(unix.AT_FDCWD, p, uint(flags), &unix.MountAttr{Attr_set: attr})
}

// zygoteDev makes the minimal /dev: the five harmless devices bound from
// the host, the usual symlinks, a /dev/shm (each child mounts its own).
func zygoteDev(dev, shmOpts string) *zfail {
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=0755,size=64k,nr_inodes=64"); err != nil {
		return zerr(LayerDev, 1, err)
	}
	for i, n := range []string{"null", "zero", "full", "random", "urandom"} {
		t := filepath.Join(dev, n)
		if err := os.WriteFile(t, nil, 0o644); err != nil {
			return zerr(LayerDev, 10+i, err)
		}
		if err := unix.Mount("/dev/"+n, t, "", unix.MS_BIND, ""); err != nil {
			return zerr(LayerDev, 10+i, err)
		}
		if err := zattr(t, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC, false); err != nil {
			return zerr(LayerDev, 10+i, err)
		}
	}
	for i, l := range [][2]string{{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}} {
		if err := os.Symlink(l[0], filepath.Join(dev, l[1])); err != nil {
			return zerr(LayerDev, 20+i, err)
		}
	}
	shm := filepath.Join(dev, "shm")
	if err := os.Mkdir(shm, 0o755); err != nil {
		return zerr(LayerDev, 30, err)
	}
	if err := unix.Mount("tmpfs", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, shmOpts); err != nil {
		return zerr(LayerTmpfs, 3, err)
	}
	if err := zattr(dev, unix.MOUNT_ATTR_RDONLY, false); err != nil {
		return zerr(LayerDev, 31, err)
	}
	return nil
}
