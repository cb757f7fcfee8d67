//go:build linux

package beneath_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/beneath"
)

// The program controls dir; host is a file outside it that the
// supervisor must never write or read on the program's behalf.
func TestTrapsAreRefused(t *testing.T) {
	dir := t.TempDir()
	hostDir := t.TempDir()
	host := filepath.Join(hostDir, "host.txt")
	if err := os.WriteFile(host, []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(host, filepath.Join(dir, "link.txt")))
	must(os.Symlink(hostDir, filepath.Join(dir, "sub")))
	must(os.Link(host, filepath.Join(dir, "hard.txt")))
	for _, name := range []string{"link.txt", "sub/host.txt", "sub/new.txt", "hard.txt"} {
		err := beneath.WriteFiles(dir, []sandrun.InputFile{{Name: name, Content: "evil"}})
		if !errors.Is(err, beneath.ErrUnsafe) {
			t.Errorf("%s: %v, want ErrUnsafe", name, err)
		}
	}
	if b, _ := os.ReadFile(host); string(b) != "host" {
		t.Fatalf("host file changed: %q", b)
	}
	if _, err := os.Stat(filepath.Join(hostDir, "new.txt")); err == nil {
		t.Fatal("a file was created through a symlinked directory")
	}
	files, err := beneath.Collect(dir, []string{"*", "sub/*"}, beneath.CollectLimits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Errorf("collected %s through a symlink or hard link", f.Name)
	}
	must(beneath.WriteFiles(dir, []sandrun.InputFile{{Name: "a/b/c.txt", Content: "ok"}}))
	files, err = beneath.Collect(dir, []string{"a/b/*"}, beneath.CollectLimits{})
	if err != nil || len(files) != 1 || string(files[0].Content) != "ok" {
		t.Fatalf("normal write/collect: %v %+v", err, files)
	}
}

// The cap: MaxFiles files by name, then one entry without content that
// says more matched (issue 12 item 9: the pipeline flags the run).
func TestCollectCapIsVisible(t *testing.T) {
	dir := t.TempDir()
	for i := range 5 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.txt", i)), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ max, want int }{{5, 5}, {4, 5}, {3, 4}} {
		files, err := beneath.Collect(dir, []string{"*.txt"}, beneath.CollectLimits{MaxFiles: c.max})
		if err != nil || len(files) != c.want {
			t.Fatalf("MaxFiles %d: %d files, %v; want %d", c.max, len(files), err, c.want)
		}
		if more := files[len(files)-1]; c.want > c.max && (more.Content != nil || !more.Truncated || more.Name != fmt.Sprintf("f%d.txt", c.max)) {
			t.Fatalf("MaxFiles %d: the extra entry is %+v", c.max, more)
		}
	}
}

// The walk starts from the work directory's own descriptor: directories
// above it that the sandbox's user cannot search (the process tier's
// 0700 root-owned base) do not hide its files.
func TestCollectUnderAClosedParent(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to act as another user")
	}
	base := filepath.Join(t.TempDir(), "closed")
	dir := filepath.Join(base, "work")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "out.txt"), []byte("made"), 0o600); err != nil {
		t.Fatal(err)
	}
	const uid = 64123 // the sandbox's user: owns dir, cannot search base
	if err := os.Chown(dir, uid, uid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(dir, "out.txt"), uid, uid); err != nil {
		t.Fatal(err)
	}
	files, err := beneath.Collect(dir, []string{"*.txt"}, beneath.CollectLimits{})
	if err != nil || len(files) != 1 || string(files[0].Content) != "made" {
		t.Fatalf("%+v, %v", files, err)
	}
}
