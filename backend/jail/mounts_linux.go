//go:build linux

package jail

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"

	"github.com/sandrun/sandrun"
	"golang.org/x/sys/unix"
)

// stepError is a failure inside the init: which layer, which item.
type stepError struct {
	layer Layer
	step  uint16
	err   error
}

func (e *stepError) Error() string { return fmt.Sprintf("%s step %d: %v", e.layer, e.step, e.err) }

func fail(l Layer, step int, err error) *stepError {
	return &stepError{layer: l, step: uint16(step), err: err}
}

// newRoot is where the init builds the jail's root before pivot_root.
// It is a mount point in the init's private mount namespace only; the
// host's /tmp is untouched.
const newRoot = "/tmp"

// setupFS builds the jail's view and pivots into it. fds are the bind
// sources, one per non-symlink bind, in order.
func setupFS(cfg *initConfig, fds []int) *stepError {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fail(LayerMounts, 1, err)
	}
	if err := unix.Mount("tmpfs", newRoot, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=1m,nr_inodes=4096"); err != nil {
		return fail(LayerMounts, 2, err)
	}
	for _, d := range []string{"proc", "dev", "tmp", "work", "etc"} {
		if err := os.Mkdir(filepath.Join(newRoot, d), 0o755); err != nil {
			return fail(LayerMounts, 3, err)
		}
	}
	tmpfsOpts := fmt.Sprintf("mode=0755,size=%d,nr_inodes=%d", cfg.WorkSize, cfg.WorkInodes)
	for i, d := range []string{"tmp", "work"} {
		if err := unix.Mount("tmpfs", filepath.Join(newRoot, d), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, tmpfsOpts); err != nil {
			return fail(LayerTmpfs, i+1, err)
		}
	}
	fdi := 0
	for i, b := range cfg.Binds {
		target := filepath.Join(newRoot, b.Path)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return fail(LayerMounts, 100+i, err)
		}
		if b.Symlink != "" {
			if err := os.Symlink(b.Symlink, target); err != nil && !os.IsExist(err) {
				return fail(LayerMounts, 100+i, err)
			}
			continue
		}
		if fdi >= len(fds) {
			return fail(LayerMounts, 100+i, unix.EBADF)
		}
		fd := fds[fdi]
		fdi++
		if err := bindReadOnly("/proc/self/fd/"+strconv.Itoa(fd), fd, target); err != nil {
			return fail(LayerMounts, 100+i, err)
		}
	}
	if err := writeEtc(cfg); err != nil {
		return fail(LayerFiles, 1, err)
	}
	for i, f := range cfg.Files {
		if err := writeWorkFile(filepath.Join(newRoot, "work"), f); err != nil {
			return fail(LayerFiles, 10+i, err)
		}
	}
	if e := setupDev(cfg, tmpfsOpts); e != nil {
		return e
	}
	if e := setupProc(); e != nil {
		return e
	}
	if err := unix.Chdir(newRoot); err != nil {
		return fail(LayerPivotRoot, 1, err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fail(LayerPivotRoot, 2, err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fail(LayerPivotRoot, 3, err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fail(LayerPivotRoot, 4, err)
	}
	// The root itself (mount points, /etc) is read-only from here on.
	if err := setAttr("/", unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, false); err != nil {
		return fail(LayerPivotRoot, 5, err)
	}
	if err := unix.Chdir("/work"); err != nil {
		return fail(LayerPivotRoot, 6, err)
	}
	return nil
}

// bindReadOnly bind-mounts src (a /proc/self/fd path whose fd is fd) on
// target, creating target as a file or directory like the source, then
// makes the whole subtree read-only, nosuid and nodev in one
// mount_setattr call.
func bindReadOnly(src string, fd int, target string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
	} else if err := touch(target); err != nil {
		return err
	}
	if err := unix.Mount(src, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	return setAttr(target, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, true)
}

func setAttr(p string, attr uint64, recursive bool) error {
	flags := unix.AT_SYMLINK_NOFOLLOW
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	return unix.MountSetattr(unix.AT_FDCWD, p, uint(flags), &unix.MountAttr{Attr_set: attr})
}

func touch(p string) error {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		if os.IsExist(err) {
			return nil
		}
		return err
	}
	return f.Close()
}

// setupDev makes a minimal /dev: a small read-only tmpfs with the five
// harmless character devices bound from the host, the usual symlinks and
// a private size-capped /dev/shm.
func setupDev(cfg *initConfig, shmOpts string) *stepError {
	dev := filepath.Join(newRoot, "dev")
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=0755,size=64k,nr_inodes=64"); err != nil {
		return fail(LayerDev, 1, err)
	}
	for i, n := range []string{"null", "zero", "full", "random", "urandom"} {
		t := filepath.Join(dev, n)
		if err := touch(t); err != nil {
			return fail(LayerDev, 10+i, err)
		}
		if err := unix.Mount("/dev/"+n, t, "", unix.MS_BIND, ""); err != nil {
			return fail(LayerDev, 10+i, err)
		}
		if err := setAttr(t, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC, false); err != nil {
			return fail(LayerDev, 10+i, err)
		}
	}
	for i, l := range [][2]string{{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}} {
		if err := os.Symlink(l[0], filepath.Join(dev, l[1])); err != nil {
			return fail(LayerDev, 20+i, err)
		}
	}
	shm := filepath.Join(dev, "shm")
	if err := os.Mkdir(shm, 0o755); err != nil {
		return fail(LayerDev, 30, err)
	}
	if err := unix.Mount("tmpfs", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, shmOpts); err != nil {
		return fail(LayerTmpfs, 3, err)
	}
	if err := setAttr(dev, unix.MOUNT_ATTR_RDONLY, false); err != nil {
		return fail(LayerDev, 31, err)
	}
	return nil
}

// setupProc mounts a fresh procfs of the jail's pid namespace and makes
// the kernel-tunable parts read-only.
func setupProc() *stepError {
	p := filepath.Join(newRoot, "proc")
	if err := unix.Mount("proc", p, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fail(LayerProc, 1, err)
	}
	for i, sub := range []string{"sys", "sysrq-trigger", "irq", "bus", "fs", "acpi", "scsi"} {
		t := filepath.Join(p, sub)
		if _, err := os.Lstat(t); err != nil {
			continue
		}
		if err := unix.Mount(t, t, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fail(LayerProc, 10+i, err)
		}
		if err := setAttr(t, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC, true); err != nil {
			return fail(LayerProc, 10+i, err)
		}
	}
	return nil
}

// writeEtc generates passwd, group, hostname and hosts for the one user.
func writeEtc(cfg *initConfig) error {
	etc := filepath.Join(newRoot, "etc")
	files := map[string]string{
		"passwd":   fmt.Sprintf("root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:%d:%d:sandbox:/work:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n", cfg.UID, cfg.GID),
		"group":    fmt.Sprintf("root:x:0:\nsandbox:x:%d:\nnogroup:x:65534:\n", cfg.GID),
		"hostname": cfg.Hostname + "\n",
		"hosts":    "127.0.0.1\tlocalhost " + cfg.Hostname + "\n::1\tlocalhost\n",
	}
	for n, c := range files {
		p := filepath.Join(etc, n)
		if _, err := os.Lstat(p); err == nil {
			continue // a runtime bind provides it
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeWorkFile writes one request file under work, refusing names that
// would leave it (validated by the supervisor already; checked again).
func writeWorkFile(work string, f initFile) error {
	if err := sandrun.ValidateFileName(f.Name); err != nil {
		return err
	}
	p := filepath.Join(work, filepath.FromSlash(path.Clean(f.Name)))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	mode := os.FileMode(f.Mode)
	if mode == 0 {
		mode = 0o644
	}
	return os.WriteFile(p, f.Data, mode)
}
