//go:build linux

package jail

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/cgroup"
	"github.com/sandrun/sandrun/internal/uidslot"
	"github.com/sandrun/sandrun/lang"
	"golang.org/x/sys/unix"
)

// Backend is the jail tier. It is safe for concurrent use.
type Backend struct {
	opts  Options
	exe   *os.File        // the init binary, exec'd as /proc/self/fd/4
	slots *uidslot.Pool   // one host uid per concurrent run (root)
	cg    *cgroup.Manager // nil when downgraded
	net   *netPool        // nil: each clone makes its network namespace
	root  bool
	// noVfork: vforkInit is unavailable here (spawn_linux.go); inits
	// are started with os/exec.
	noVfork atomic.Bool
	// filter (filterInet: for a run with a network allowlist) is the
	// assembled seccomp program and abi the kernel's Landlock ABI, found
	// once at New for every init's config.
	filter, filterInet []byte
	abi                int

	// host is what the layer probes found at New; Check reports it.
	host       error
	downgrades []string

	// pool holds prestarted inits (Options.Prestart); closing stops the
	// refill, which closes poolDone.
	pool     chan *proc
	closing  chan struct{}
	poolDone chan struct{}
	// ahead receives the init spawned at New (Options.SpawnAhead), or nil
	// if that failed, and is closed after it.
	ahead chan *proc

	// warm is the warm path (Options.Warm), nil when off.
	warm *warmPath
	// guest is the guests' warm path (Options.Guests, guest_linux.go).
	guest guestState

	closeOnce sync.Once
}

var (
	_ sandrun.Backend   = (*Backend)(nil)
	_ sandrun.Launcher  = (*Backend)(nil)
	_ sandrun.Diagnoser = (*Backend)(nil)
)

// New probes the host's layers, sweeps what a crashed supervisor left,
// and starts making network namespaces ahead of time. A missing layer does not
// make New fail: Check reports it (so that `auto` moves on and doctor
// explains), unless it was downgraded.
func New(opts Options) (*Backend, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	b := &Backend{opts: opts, root: os.Geteuid() == 0}
	exe := opts.Exe
	if exe == "" {
		e, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("jail: finding the init binary: %w", err)
		}
		exe = e
	}
	f, err := os.Open(exe)
	if err != nil {
		return nil, fmt.Errorf("jail: opening the init binary: %w", err)
	}
	b.exe = f
	dir := opts.StateDir
	if dir == "" {
		dir = stateDir()
	}
	if b.root {
		if b.slots, err = uidslot.New(filepath.Join(dir, "uids"), opts.UIDBase, opts.UIDCount); err != nil {
			f.Close()
			return nil, fmt.Errorf("jail: %w", err)
		}
	}
	b.host = b.probe()
	b.closing = make(chan struct{})
	if b.host == nil && opts.Prestart > 0 {
		b.pool = make(chan *proc, opts.Prestart)
		b.poolDone = make(chan struct{})
		go b.prestart()
	} else if b.host == nil && opts.SpawnAhead {
		b.ahead = make(chan *proc, 1)
		go b.spawnAhead()
	}
	if b.host == nil && opts.Warm > 0 {
		if b.warm, err = newWarmPath(b); err != nil {
			opts.Logger.Warn("jail: no warm path; every run starts cold", "err", err)
		}
	}
	if b.host == nil && opts.Prestart > 0 {
		b.startGuests()
	}
	return b, nil
}

// probe checks each layer once; the first missing one (not downgraded)
// is the reason Check gives.
func (b *Backend) probe() error {
	var errs []error
	if err := probeUserNS(); err != nil {
		errs = append(errs, &SetupError{Layer: LayerNamespaces, Err: err})
	}
	if !haveCInit {
		errs = append(errs, &SetupError{Layer: LayerProtocol, Detail: "this sandrun was built without cgo (CGO_ENABLED=0): the jail's init is C; rebuild with cgo"})
	}
	// The filter is assembled once, without and with IPv4 TCP sockets
	// (a run with a network allowlist, network_linux.go).
	var err error
	b.filter, err = filterBytes(false)
	if err == nil {
		b.filterInet, err = filterBytes(true)
	}
	switch {
	case b.opts.downgraded(DowngradeSeccomp):
		b.downgrades = append(b.downgrades, "seccomp: off")
	case err != nil:
		errs = append(errs, &SetupError{Layer: LayerSeccomp, Err: err})
	}
	abi := landlockABI()
	b.abi = abi
	switch {
	case b.opts.downgraded(DowngradeLandlock) && abi < 6:
		b.downgrades = append(b.downgrades, fmt.Sprintf("landlock: partial (kernel ABI %d < 6)", abi))
	case b.opts.downgraded(DowngradeLandlock):
		// Landlock works: the downgrade only matters on weaker kernels.
	case abi < 6:
		errs = append(errs, &SetupError{Layer: LayerLandlock, Detail: fmt.Sprintf("kernel Landlock ABI is %d; the jail needs 6 (filesystem, TCP and scope rules)", abi)})
	}
	if b.opts.downgraded(DowngradeCgroup) {
		b.downgrades = append(b.downgrades, "cgroup: off (no memory, pids or CPU bandwidth control)")
	} else {
		m, err := newCgroupManager(b.opts.CgroupParent, b.opts.Logger)
		if err != nil {
			errs = append(errs, &SetupError{Layer: LayerCgroup, Err: err})
		} else {
			b.cg = m
			if n, err := m.Sweep(); err != nil {
				b.opts.Logger.Warn("jail: sweeping stale cgroups", "err", err)
			} else if n > 0 {
				b.opts.Logger.Info("jail: removed stale cgroups", "count", n)
			}
		}
	}
	// Namespaces made ahead of time need root (to join one from outside
	// the jail's user namespace); otherwise each clone makes its own.
	if b.root && len(errs) == 0 && b.opts.NetPool >= 0 {
		n, err := newNetPool(max(b.opts.NetPool, 1), b.opts.Logger)
		if err != nil {
			b.opts.Logger.Warn("jail: no network namespaces made ahead of time, one per clone instead", "err", err)
		} else {
			b.net = n
		}
	}
	return errors.Join(errs...)
}

// probeUserNS checks that user namespaces can be made here.
func probeUserNS() error {
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && string(b) == "0\n" {
		return errors.New("user namespaces are disabled (user.max_user_namespaces = 0)")
	}
	if os.Geteuid() != 0 {
		if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && string(b) == "0\n" {
			return errors.New("unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0)")
		}
		if b, err := os.ReadFile("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); err == nil && string(b) == "1\n" {
			return errors.New("AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1)")
		}
	}
	return nil
}

// Name implements sandrun.Backend.
func (b *Backend) Name() string { return Name }

// Check implements sandrun.Backend: every layer is available (or
// downgraded) and the language is installed.
func (b *Backend) Check(ctx context.Context, language string) error {
	if b.host != nil {
		return b.host
	}
	_, err := b.opts.Languages.Lookup(ctx, language)
	return err
}

// Close releases the namespaces made ahead of time and the init binary.
func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		if b.warm != nil {
			b.warm.close()
		}
		b.closeGuests()
		close(b.closing)
		if b.ahead != nil {
			for p := range b.ahead { // waits for the spawn
				if p != nil {
					p.cleanup()
				}
			}
		}
		if b.pool != nil {
			<-b.poolDone
			for {
				select {
				case p := <-b.pool:
					p.cleanup()
					continue
				default:
				}
				break
			}
		}
		if b.net != nil {
			b.net.close()
		}
		b.exe.Close()
	})
	return nil
}

// bindsFor lists the language's runtime paths for the init.
func bindsFor(l *lang.Language) ([]bindSpec, error) {
	var out []bindSpec
	for _, p := range l.Paths {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("runtime path %q is not absolute", p)
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, &SetupError{Layer: LayerMounts, Errno: errnoOf(err), Detail: "runtime path " + p}
		}
		bs := bindSpec{Path: filepath.Clean(p)}
		if fi.Mode()&os.ModeSymlink != 0 {
			if bs.Symlink, err = os.Readlink(p); err != nil {
				return nil, err
			}
		}
		out = append(out, bs)
	}
	return out, nil
}

// openBinds opens every non-symlink bind source inside the init's mount
// namespace (through /proc/<pid>/root, symlinks resolved within it), so
// the init can bind them although its host uid may not traverse the
// path (pyenv under /root 0700) and a bind source must belong to the
// init's own mount namespace.
func openBinds(pid int, binds []bindSpec) ([]int, error) {
	root, err := unix.Open(fmt.Sprintf("/proc/%d/root", pid), unix.O_PATH|unix.O_CLOEXEC|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, &SetupError{Layer: LayerMounts, Errno: errnoOf(err), Detail: "opening the jail's root"}
	}
	defer unix.Close(root)
	var fds []int
	for i, bd := range binds {
		if bd.Symlink != "" {
			continue
		}
		fd, err := unix.Openat2(root, bd.Path[1:], &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_CLOEXEC | unix.O_NOFOLLOW,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err != nil {
			closeAll(fds)
			return nil, &SetupError{Layer: LayerMounts, Step: uint16(100 + i), Errno: errnoOf(err), Detail: "opening runtime path " + bd.Path}
		}
		fds = append(fds, fd)
	}
	return fds, nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
