//go:build linux

package beneath

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
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
			return nil, fmt.Errorf("%w: %s: %w", ErrUnsafe, rel, err)
		}
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	return os.NewFile(uintptr(fd), rel), nil
}

// asOwner runs fn on a thread whose filesystem uid and gid are those of
// dir's owner (the sandboxed user), so that the kernel checks every
// access as that user and new files belong to it. This matters for the
// jail: its /work is a tmpfs of the jail's user namespace, where a file
// created by host root (unmapped there) is refused with EOVERFLOW.
//
// The thread's identity is restored before it goes back to the runtime.
// It must not simply exit instead: sandboxes are started with
// PR_SET_PDEATHSIG, which fires when the thread that forked them ends,
// and that may be this very thread.
func asOwner(dir string, fn func(root *os.File, uid, gid int) error) error {
	root, err := openRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(root.Fd()), &st); err != nil {
		return err
	}
	uid, gid := int(st.Uid), int(st.Gid)
	if uid == os.Geteuid() && gid == os.Getegid() {
		return fn(root, uid, gid)
	}
	runtime.LockOSThread()
	ouid, _ := unix.SetfsuidRetUid(-1)
	ogid, _ := unix.SetfsgidRetGid(-1)
	restored := false
	defer func() {
		if restored {
			runtime.UnlockOSThread()
		}
		// Otherwise the thread stays locked and is never reused with the
		// sandbox's identity (it ends with the goroutine).
	}()
	restore := func() {
		_ = unix.Setfsuid(ouid)
		_ = unix.Setfsgid(ogid)
		cu, _ := unix.SetfsuidRetUid(-1)
		cg, _ := unix.SetfsgidRetGid(-1)
		restored = cu == ouid && cg == ogid
	}
	defer restore()
	_ = unix.Setfsgid(gid)
	_ = unix.Setfsuid(uid)
	if cur, _ := unix.SetfsuidRetUid(-1); cur != uid {
		return fmt.Errorf("cannot act as the sandbox's user %d on its work directory (fsuid is %d)", uid, cur)
	}
	if cur, _ := unix.SetfsgidRetGid(-1); cur != gid {
		return fmt.Errorf("cannot act as the sandbox's group %d on its work directory (fsgid is %d)", gid, cur)
	}
	return fn(root, uid, gid)
}

// WriteFiles writes files into dir, creating parent directories, as dir's
// owner (the sandboxed user) so the program can read them.
func WriteFiles(dir string, files []sandrun.InputFile) error {
	if len(files) == 0 {
		return nil
	}
	return asOwner(dir, func(root *os.File, uid, gid int) error { return writeFiles(root, uid, gid, files) })
}

func writeFiles(root *os.File, uid, gid int, files []sandrun.InputFile) error {
	st := struct{ Uid, Gid uint32 }{uint32(uid), uint32(gid)}
	for _, f := range files {
		b, err := f.Checked()
		if err != nil {
			return err
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
// one of globs (path.Match), first by name: at most lim.MaxFiles, plus, when
// more matched, one more entry without content (Truncated set) so that the
// caller can tell the list was cut (the pipeline keeps MaxFiles and flags
// the run). Every directory and file is opened beneath dir's descriptor,
// never by a path from the host's root, so symlinks planted by the
// program are never followed and the walk works whatever the directories
// above dir let the sandbox's user do.
func Collect(dir string, globs []string, lim CollectLimits) ([]sandrun.OutputFile, error) {
	if len(globs) == 0 {
		return nil, nil
	}
	if lim.MaxFiles == 0 {
		lim.MaxFiles = sandrun.MaxCollectFiles
	}
	if lim.MaxFile == 0 {
		lim.MaxFile = 1 << 20
	}
	if lim.MaxTotal == 0 {
		lim.MaxTotal = 8 << 20
	}
	var out []sandrun.OutputFile
	err := asOwner(dir, func(root *os.File, _, _ int) error {
		out = collect(root, globs, lim)
		return nil
	})
	return out, err
}

// maxWalk bounds the entries a collect walk visits (a program can make
// millions of empty files).
const maxWalk = 100_000

func collect(root *os.File, globs []string, lim CollectLimits) []sandrun.OutputFile {
	// The walk only proposes names; each is opened beneath the root again,
	// so a directory swapped for a symlink mid-walk yields nothing.
	var names []string
	visited := 0
	var walk func(rel string, depth int)
	walk = func(rel string, depth int) {
		if depth > 64 || visited > maxWalk || len(names) > 4*lim.MaxFiles {
			return
		}
		d, err := at(root, rel, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
		if err != nil {
			return
		}
		ents, _ := d.ReadDir(-1)
		d.Close()
		for _, e := range ents {
			visited++
			p := path.Join(rel, e.Name())
			switch {
			case e.IsDir():
				walk(p, depth+1)
			case e.Type().IsRegular():
				for _, g := range globs {
					if ok, _ := path.Match(g, p); ok {
						names = append(names, p)
						break
					}
				}
			}
		}
	}
	walk(".", 0)
	sort.Strings(names)
	var out []sandrun.OutputFile
	var total int64
	for _, n := range names {
		if len(out) >= lim.MaxFiles {
			// One more, without content: more matched than the cap.
			out = append(out, sandrun.OutputFile{Name: n, Truncated: true})
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
	return out
}
