//go:build linux

package beneath

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sandrun/sandrun"
	"golang.org/x/sys/unix"
)

const resolve = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV

func openRoot(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening the work directory: %w", err)
	}
	return os.NewFile(uintptr(fd), dir), nil
}

func at(root *os.File, rel string, flags uint64, mode uint64) (*os.File, error) {
	fd, err := unix.Openat2(int(root.Fd()), rel, &unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Mode: mode, Resolve: resolve})
	if err != nil {
		if err == unix.ELOOP || err == unix.EXDEV {
			return nil, fmt.Errorf("%w: %s: %v", ErrUnsafe, rel, err)
		}
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	return os.NewFile(uintptr(fd), rel), nil
}

// WriteFiles writes files into dir, creating parent directories, owned by
// dir's owner (the sandboxed user) so the program can read them.
func WriteFiles(dir string, files []sandrun.InputFile) error {
	if len(files) == 0 {
		return nil
	}
	root, err := openRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(root.Fd()), &st); err != nil {
		return err
	}
	for _, f := range files {
		if err := sandrun.ValidateFileName(f.Name); err != nil {
			return fmt.Errorf("file %q: %w", f.Name, err)
		}
		b, err := f.Bytes()
		if err != nil {
			return fmt.Errorf("file %q: %w", f.Name, err)
		}
		rel := path.Clean(f.Name)
		if err := mkdirs(root, path.Dir(rel), int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
		fh, err := at(root, rel, unix.O_WRONLY|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0o644)
		if err != nil {
			return err
		}
		err = writeOne(fh, b, int(st.Uid), int(st.Gid))
		fh.Close()
		if err != nil {
			return fmt.Errorf("file %q: %w", f.Name, err)
		}
	}
	return nil
}

func writeOne(fh *os.File, b []byte, uid, gid int) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(fh.Fd()), &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%w: not a regular file", ErrUnsafe)
	}
	if st.Nlink > 1 {
		return fmt.Errorf("%w: the file has %d hard links", ErrUnsafe, st.Nlink)
	}
	if err := fh.Truncate(0); err != nil {
		return err
	}
	if _, err := fh.Write(b); err != nil {
		return err
	}
	return unix.Fchown(int(fh.Fd()), uid, gid)
}

func mkdirs(root *os.File, rel string, uid, gid int) error {
	if rel == "." || rel == "" {
		return nil
	}
	cur := ""
	for _, part := range strings.Split(rel, "/") {
		cur = path.Join(cur, part)
		d, err := at(root, cur, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err == nil {
			d.Close()
			continue
		}
		parent, err := at(root, path.Dir(cur), unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			return err
		}
		err = unix.Mkdirat(int(parent.Fd()), part, 0o755)
		if err == nil {
			_ = unix.Fchownat(int(parent.Fd()), part, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
		}
		parent.Close()
		if err != nil && err != unix.EEXIST {
			return fmt.Errorf("mkdir %s: %w", cur, err)
		}
	}
	return nil
}

// Collect returns the regular files under dir whose relative path matches
// one of globs (path.Match), each opened beneath dir.
func Collect(dir string, globs []string, lim CollectLimits) ([]sandrun.OutputFile, error) {
	if len(globs) == 0 {
		return nil, nil
	}
	if lim.MaxFiles == 0 {
		lim.MaxFiles = 64
	}
	if lim.MaxFile == 0 {
		lim.MaxFile = 1 << 20
	}
	if lim.MaxTotal == 0 {
		lim.MaxTotal = 8 << 20
	}
	root, err := openRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	// The walk only proposes names; each is opened beneath the root, so a
	// directory swapped for a symlink mid-walk yields nothing.
	var names []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		for _, g := range globs {
			if ok, _ := path.Match(g, rel); ok {
				names = append(names, rel)
				break
			}
		}
		if len(names) > 4*lim.MaxFiles {
			return filepath.SkipAll
		}
		return nil
	})
	sort.Strings(names)
	var out []sandrun.OutputFile
	var total int64
	for _, n := range names {
		if len(out) >= lim.MaxFiles {
			break
		}
		f, err := at(root, n, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
		if err != nil {
			continue
		}
		var st unix.Stat_t
		fi, err := f.Stat()
		if err == nil {
			err = unix.Fstat(int(f.Fd()), &st)
		}
		if err != nil || !fi.Mode().IsRegular() || st.Nlink > 1 {
			// A hard link may be a host file the program linked in.
			f.Close()
			continue
		}
		capN := max(min(lim.MaxFile, lim.MaxTotal-total), 0)
		b, _ := io.ReadAll(io.LimitReader(f, capN))
		f.Close()
		total += int64(len(b))
		sum := sha256.Sum256(b)
		out = append(out, sandrun.OutputFile{
			Name: n, Size: fi.Size(), SHA256: hex.EncodeToString(sum[:]), Content: b,
			Truncated: int64(len(b)) < fi.Size(),
		})
	}
	return out, nil
}
