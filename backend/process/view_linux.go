//go:build linux

package process

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// A view is a mount namespace in which a program running under an
// unprivileged uid can reach the paths it needs: the interpreter and its
// runtime, and the work directory. It is the host's filesystem (mounts
// propagate in from the host), except that each topmost directory on the
// way to a needed path that others may not search (/root for pyenv's
// python, a 0700 temp dir holding a test binary or the work dirs) is
// covered by a small read-only tmpfs holding only the needed paths, bound
// back from the host. What else those directories hold (root's home) is
// hidden. One view serves every run that needs the same paths; the
// program's forking thread enters it with setns.
type view struct {
	fd    int      // the namespace (/proc/thread-self/ns/mnt of its builder)
	paths []string // what it makes reachable, sorted
}

// views keeps the current view and rebuilds it when a run needs a path
// it lacks (a language looked up for the first time).
type views struct {
	mu  sync.Mutex
	cur *view // nil: every path needed so far is reachable on the host
	all []string
	// known are the paths already judged (reachable, or in the view):
	// a run of a language seen before costs no system call here.
	known map[string]bool
}

// forPaths returns the view that makes every path in need reachable, or
// nil when the host's own view does. Symlinks in need are resolved.
func (vs *views) forPaths(need []string) (*view, error) {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	var fresh, missing []string
	for _, p := range need {
		if !vs.known[p] {
			fresh = append(fresh, p)
		}
	}
	for _, p := range realPaths(fresh) {
		if _, blocked, err := unsearchable(p); err != nil {
			return nil, err
		} else if blocked && !vs.has(p) {
			missing = append(missing, p)
		}
	}
	if vs.known == nil {
		vs.known = map[string]bool{}
	}
	if len(missing) == 0 {
		for _, p := range fresh {
			vs.known[p] = true
		}
		return vs.cur, nil
	}
	all := append(append([]string(nil), vs.all...), missing...)
	v, err := buildView(all)
	if err != nil {
		return nil, err
	}
	// Runs in flight keep the old namespace alive through their
	// processes; new runs get the new one.
	if vs.cur != nil {
		unix.Close(vs.cur.fd)
	}
	vs.cur, vs.all = v, v.paths
	for _, p := range fresh {
		vs.known[p] = true
	}
	return v, nil
}

func (vs *views) has(p string) bool {
	for _, q := range vs.all {
		if q == p {
			return true
		}
	}
	return false
}

func (vs *views) close() {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if vs.cur != nil {
		unix.Close(vs.cur.fd)
		vs.cur = nil
	}
}

// unsearchable returns the topmost directory on the way to p (p itself
// included when it is a directory, since the program must enter it) that
// others may not search. p must be an absolute path without symlinks.
func unsearchable(p string) (string, bool, error) {
	if !filepath.IsAbs(p) {
		return "", false, fmt.Errorf("view: %q is not absolute", p)
	}
	cur := "/"
	parts := strings.Split(strings.Trim(filepath.Clean(p), "/"), "/")
	for i, part := range parts {
		if part == "" {
			continue
		}
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if err != nil {
			return "", false, fmt.Errorf("view: %w", err)
		}
		if !fi.IsDir() {
			if i != len(parts)-1 {
				return "", false, fmt.Errorf("view: %s is not a directory", cur)
			}
			break
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return cur, true, nil
		}
	}
	return "", false, nil
}

// realPaths resolves symlinks (the language's /bin -> usr/bin) and drops
// paths that do not exist.
func realPaths(ps []string) []string {
	var out []string
	for _, p := range ps {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			out = append(out, r)
		}
	}
	return out
}

// buildView makes a new mount namespace on a thread of its own and
// returns a descriptor of it. The thread is not given back to the Go
// runtime: it ends with its goroutine, its namespace living on in the
// descriptor.
func buildView(paths []string) (*view, error) {
	type result struct {
		v   *view
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		v, err := buildViewOnThread(paths)
		ch <- result{v, err}
	}()
	r := <-ch
	return r.v, r.err
}

func buildViewOnThread(paths []string) (*view, error) {
	// covers maps each directory to cover to the needed paths under it.
	covers := map[string][]string{}
	var kept []string
	for _, p := range paths {
		c, blocked, err := unsearchable(p)
		if err != nil {
			return nil, err
		}
		if blocked {
			covers[c] = append(covers[c], p)
			kept = append(kept, p)
		}
	}
	sort.Strings(kept)
	if err := unix.Unshare(unix.CLONE_FS | unix.CLONE_NEWNS); err != nil {
		return nil, fmt.Errorf("view: unshare: %w", err)
	}
	// Host mounts keep propagating in; nothing done here goes out.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return nil, fmt.Errorf("view: making / a slave: %w", err)
	}
	dirs := make([]string, 0, len(covers))
	for c := range covers {
		dirs = append(dirs, c)
	}
	// Covers are disjoint: each is the topmost blocked directory of its
	// paths.
	sort.Strings(dirs)
	for _, c := range dirs {
		if err := cover(c, covers[c]); err != nil {
			return nil, err
		}
	}
	fd, err := unix.Open("/proc/thread-self/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("view: %w", err)
	}
	return &view{fd: fd, paths: kept}, nil
}

// cover mounts a read-only tmpfs on dir holding only the needed paths,
// each bound back (recursively, read-only as on the host) from a clone of
// the host's tree taken before the tmpfs hides it.
func cover(dir string, need []string) error {
	sort.Strings(need)
	var trees []int
	defer func() {
		for _, fd := range trees {
			unix.Close(fd)
		}
	}()
	var targets []string
	for i, p := range need {
		// A needed path under (or equal to) another comes back with it.
		if i > 0 && (p == targets[len(targets)-1] || strings.HasPrefix(p, targets[len(targets)-1]+"/")) {
			continue
		}
		fd, err := unix.OpenTree(unix.AT_FDCWD, p, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
		if err != nil {
			return fmt.Errorf("view: cloning %s: %w", p, err)
		}
		trees = append(trees, fd)
		targets = append(targets, p)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=1m,nr_inodes=4096"); err != nil {
		return fmt.Errorf("view: covering %s: %w", dir, err)
	}
	for i, p := range targets {
		fi, err := os.Stat("/proc/self/fd/" + fmt.Sprint(trees[i]))
		if err != nil {
			return fmt.Errorf("view: %s: %w", p, err)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("view: %w", err)
		}
		if fi.IsDir() {
			err = os.Mkdir(p, 0o755)
		} else {
			err = os.WriteFile(p, nil, 0o644)
		}
		if err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("view: %w", err)
		}
		if err := unix.MoveMount(trees[i], "", unix.AT_FDCWD, p, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return fmt.Errorf("view: binding %s back: %w", p, err)
		}
	}
	// The skeleton is shared by every run: nobody writes to it.
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("view: making %s read-only: %w", dir, err)
	}
	return nil
}
