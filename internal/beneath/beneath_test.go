//go:build linux

package beneath_test

import (
	"errors"
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
