package gvisor

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/lang"
)

// nobody is the identity inside the sandbox.
const nobody = 65534

// binds returns the paths that need a bind mount: a path that is a
// symlink into another bound path (/bin -> usr/bin on merged-/usr
// systems) is recreated as the same symlink in the skeleton instead.
// Every bind is a file proxy connection in gVisor: fewer start faster.
func binds(paths []string) (mounts []string, links map[string]string) {
	links = map[string]string{}
	for _, p := range paths {
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			target, terr := os.Readlink(p)
			real, rerr := filepath.EvalSymlinks(p)
			if terr == nil && rerr == nil && coveredBy(real, paths, p) {
				links[p] = target
				continue
			}
		}
		mounts = append(mounts, p)
	}
	return mounts, links
}

func coveredBy(real string, paths []string, self string) bool {
	for _, q := range paths {
		if q != self && (real == q || strings.HasPrefix(real, q+"/")) {
			if fi, err := os.Lstat(q); err == nil && fi.Mode()&os.ModeSymlink == 0 {
				return true
			}
		}
	}
	return false
}

// skeleton returns a read-only root directory with a mount point for each
// of paths (and /work, /tmp, /proc, /dev), or the same symlink as on the
// host for the paths binds() links, shared by every run with the same
// paths. The root mount is read-only, so gVisor cannot create mount
// points itself.
func (b *Backend) skeleton(paths []string) (string, error) {
	sorted := append([]string(nil), paths...)
	sort.Strings(sorted)
	_, links := binds(sorted)
	h := sha256.Sum256([]byte("v2\x00" + strings.Join(sorted, "\x00")))
	dir := filepath.Join(b.shared, "rootfs-"+hex.EncodeToString(h[:8]))
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(b.shared, "rootfs-tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	for _, p := range append(sorted, "/work", "/tmp", "/proc", "/dev") {
		target := filepath.Join(tmp, p)
		if l, ok := links[p]; ok {
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return "", err
			}
			if err := os.Symlink(l, target); err != nil {
				return "", err
			}
			continue
		}
		fi, err := os.Stat(p)
		if err == nil && !fi.IsDir() {
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return "", err
			}
			if err := os.WriteFile(target, nil, 0o644); err != nil {
				return "", err
			}
			continue
		}
		if err := os.MkdirAll(target, 0o755); err != nil {
			return "", err
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil && !os.IsExist(err) {
		if _, serr := os.Stat(filepath.Join(dir, ".complete")); serr != nil {
			return "", err
		}
	}
	return dir, nil
}

// hostPids is the host processes and threads a sandbox may use: gVisor's
// kernel and file proxy, and on the ptrace platform a host stub process
// and thread per program process and thread. Under a fork bomb the
// platform's host processes keep growing (about 250 a second here) even
// though the program is held to its processes limit inside: 3x + 128 was
// used up in a second and the gVisor kernel died (exit 2, the run said
// exit_error). 32 per program process, at least 2048: the bomb meets the
// CPU or wall limit first, as on the jail; a host pid space is finite
// (32768 here), so not more.
func hostPids(lim sandrun.Limits) int64 { return min(max(int64(lim.Processes)*32, 2048), 16384) }

// spec is the OCI runtime spec of one run. work is the host directory
// bound at /work; root the skeleton.
func (b *Backend) spec(l *lang.Language, req *sandrun.Request, root, work, cgroupsPath string) *specs.Spec {
	lim := req.Limits
	file := "/work/" + l.FileName
	env := map[string]string{"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/work", "LANG": "C.UTF-8", "TMPDIR": "/tmp"}
	for k, v := range l.Env {
		env[k] = v
	}
	for k, v := range req.Env {
		env[k] = v
	}
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	sort.Strings(envList)
	cpu := uint64((lim.CPUTime.D() + time.Second - 1) / time.Second)
	rl := func(t string, soft, hard uint64) specs.POSIXRlimit {
		return specs.POSIXRlimit{Type: t, Soft: soft, Hard: hard}
	}
	rlimits := []specs.POSIXRlimit{
		rl("RLIMIT_CPU", cpu, cpu+1),
		rl("RLIMIT_FSIZE", uint64(lim.FileSize), uint64(lim.FileSize)),
		rl("RLIMIT_NOFILE", uint64(lim.OpenFiles), uint64(lim.OpenFiles)),
		rl("RLIMIT_NPROC", uint64(lim.Processes), uint64(lim.Processes)),
		rl("RLIMIT_CORE", 0, 0),
	}
	roBind := []string{"rbind", "ro", "nosuid", "nodev"}
	mounts := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "noexec", "mode=755", "size=65536k"}},
		{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "noexec", "mode=1777", fmt.Sprintf("size=%d", int64(lim.WorkDir))}},
		{Destination: "/work", Type: "bind", Source: work, Options: []string{"rbind", "rw", "nosuid", "nodev", "noexec"}},
	}
	bound, _ := binds(l.Paths)
	for _, p := range bound {
		mounts = append(mounts, specs.Mount{Destination: p, Type: "bind", Source: p, Options: roBind})
	}
	if l.AddressSpaceLimit {
		// The program's own memory bound, enforced by the gVisor kernel
		// (the cgroup below also holds gVisor's kernel and file proxy, so
		// it is the limit plus MemoryOverhead). V8 cannot live under
		// RLIMIT_AS; node gets its heap flag from the language's argv.
		rlimits = append(rlimits, rl("RLIMIT_AS", uint64(lim.Memory), uint64(lim.Memory)))
	}
	mem := int64(lim.Memory + b.opts.MemoryOverhead)
	// The host cgroup holds gVisor's own threads too: its pids cap (set
	// on the run's parent cgroup, hostPids) leaves room for them, and this
	// one is a little above it so that the parent's is the one a fork
	// meets (and counts). The program itself is held to Limits.Processes
	// by RLIMIT_NPROC in the gVisor kernel.
	pids := hostPids(lim) + 64
	quota, period := int64(100000), uint64(100000) // one CPU
	swappiness := uint64(0)
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			User: specs.User{UID: nobody, GID: nobody},
			Args: l.Command(file, int64(lim.Memory), req.Args),
			Env:  envList,
			Cwd:  "/work",
			// No capability in any set.
			Capabilities:    &specs.LinuxCapabilities{},
			NoNewPrivileges: true,
			Rlimits:         rlimits,
		},
		Root:     &specs.Root{Path: root, Readonly: true},
		Hostname: "sandrun",
		Mounts:   mounts,
		Linux: &specs.Linux{
			// No network namespace path: runsc --network=none gives the
			// sandbox a stack with loopback only.
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
			CgroupsPath: cgroupsPath,
			Resources: &specs.LinuxResources{
				Memory: &specs.LinuxMemory{Limit: &mem, Swap: &mem, Swappiness: &swappiness},
				Pids:   &specs.LinuxPids{Limit: pids},
				CPU:    &specs.LinuxCPU{Quota: &quota, Period: &period},
			},
			MaskedPaths:   []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"},
			ReadonlyPaths: []string{"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"},
		},
	}
}
