// Package workdir makes the private per-run work directories on the host,
// writes request files into them, collects output files from them, and
// sweeps what a crashed supervisor left behind.
package workdir

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/beneath"
)

// Prefix starts the name of every directory this package makes; the sweep
// only ever touches names with this prefix.
const Prefix = "sandrun-"

// Base returns the directory under which work directories are made:
// $TMPDIR/sandrun-runs-<uid>, created 0700.
func Base() (string, error) {
	b := filepath.Join(os.TempDir(), fmt.Sprintf("sandrun-runs-%d", os.Getuid()))
	if err := os.MkdirAll(b, 0o700); err != nil {
		return "", fmt.Errorf("work dir base: %w", err)
	}
	fi, err := os.Lstat(b)
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Getuid() || fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("work dir base %s is not a private directory owned by uid %d", b, os.Getuid())
	}
	return b, nil
}

// Make creates a fresh 0700 directory under base whose name records the
// supervisor's pid, so that a later sweep can tell whose it is.
func Make(base string) (string, error) {
	var r [8]byte
	_, _ = rand.Read(r[:])
	dir := filepath.Join(base, fmt.Sprintf("%s%d-%s", Prefix, os.Getpid(), hex.EncodeToString(r[:])))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("work dir: %w", err)
	}
	return dir, nil
}

// Remove deletes a work directory, making unreadable subdirectories
// writable first (a program may chmod 000 its own directories).
func Remove(dir string) error {
	err := os.RemoveAll(dir)
	if err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if d != nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// Sweep removes work directories under base left by supervisors that are
// no longer running. It returns how many it removed.
func Sweep(base string) (int, error) {
	ents, err := os.ReadDir(base)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, e := range ents {
		pid, ok := ownerPID(e.Name())
		if !ok || pid == os.Getpid() || alive(pid) {
			continue
		}
		if err := Remove(filepath.Join(base, e.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

func ownerPID(name string) (int, bool) {
	if !strings.HasPrefix(name, Prefix) {
		return 0, false
	}
	rest := strings.TrimPrefix(name, Prefix)
	i := strings.IndexByte(rest, '-')
	if i <= 0 {
		return 0, false
	}
	pid, err := strconv.Atoi(rest[:i])
	return pid, err == nil && pid > 0
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// WriteFiles writes the request's files into dir, creating parent
// directories. Names were validated by Request.Validate; they are checked
// again here so that this package is safe on its own.
func WriteFiles(dir string, files []sandrun.InputFile, mode os.FileMode) error {
	for _, f := range files {
		b, err := f.Checked()
		if err != nil {
			return err
		}
		p := filepath.Join(dir, filepath.FromSlash(path.Clean(f.Name)))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, mode); err != nil {
			return err
		}
	}
	return nil
}

// CollectLimits bound what Collect returns (beneath.CollectLimits).
type CollectLimits = beneath.CollectLimits

// Collect returns the regular files under dir whose relative path matches
// one of globs. It is internal/beneath's collector, the one sandrun has:
// every path is opened beneath dir's descriptor as dir's owner, symlinks
// are never followed, hard-linked files are refused, and one entry past
// MaxFiles says more matched.
func Collect(dir string, globs []string, lim CollectLimits) ([]sandrun.OutputFile, error) {
	return beneath.Collect(dir, globs, lim)
}
