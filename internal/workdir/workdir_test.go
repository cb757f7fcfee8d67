package workdir

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sandrun/sandrun"
)

func TestWriteAndCollect(t *testing.T) {
	dir := t.TempDir()
	if err := WriteFiles(dir, []sandrun.InputFile{{Name: "a/b.txt", Content: "hi"}}, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFiles(dir, []sandrun.InputFile{{Name: "../x", Content: "no"}}, 0o600); err == nil {
		t.Fatal("escaping name written")
	}
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("host secret"), 0o600)
	os.Symlink(secret, filepath.Join(dir, "link.txt"))
	os.WriteFile(filepath.Join(dir, "big.txt"), make([]byte, 5000), 0o600)
	files, err := Collect(dir, []string{"*.txt", "a/*"}, CollectLimits{MaxFile: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0].Name != "a/b.txt" || string(files[0].Content) != "hi" {
		t.Fatalf("%+v", files)
	}
	if files[1].Name != "big.txt" || !files[1].Truncated || len(files[1].Content) != 1000 || files[1].Size != 5000 {
		t.Fatalf("%+v", files[1])
	}
}

func TestRemoveUnreadable(t *testing.T) {
	base := t.TempDir()
	d, err := Make(base)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(d, "x/y"), 0o700)
	os.WriteFile(filepath.Join(d, "x/y/f"), nil, 0o600)
	os.Chmod(filepath.Join(d, "x"), 0)
	if err := Remove(d); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d); !os.IsNotExist(err) {
		t.Fatal("not removed")
	}
}
