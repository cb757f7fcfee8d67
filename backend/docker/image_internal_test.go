package docker

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// The cached root filesystems behind the docker images have
// world-writable /tmp, /var/tmp and /run/lock, and /var/cache/sandrun/rootfs
// was 0755: any host user, a process-tier run among them (uid 1799000000),
// could plant files there, which outlived the run (the process tier's
// cleanup does not look there) and went into the next image imported
// from the cache. Now the rootfs dir is root's alone and a reused cache's
// scratch dirs are emptied before the import.
func TestRootfsCacheIsPrivate(t *testing.T) {
	cache := t.TempDir()
	dir := filepath.Join(cache, "rootfs", "bookworm-x")
	for _, d := range scratchDirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, d), 0o1777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, d, "planted"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(cache, "rootfs"), 0o755); err != nil { // as older builds left it
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".sandrun-complete"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := privateRootfsDir(cache); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(cache, "rootfs")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("rootfs dir: %v %v; want 0700", fi.Mode(), err)
	}
	got, err := buildRootfs(context.Background(), "x", BuildOptions{CacheDir: cache, Suite: "bookworm", Log: io.Discard})
	if err != nil || got != dir {
		t.Fatalf("buildRootfs = %q, %v", got, err)
	}
	for _, d := range scratchDirs {
		if ents, _ := os.ReadDir(filepath.Join(dir, d)); len(ents) != 0 {
			t.Errorf("%s still holds %d entries: they would go into the image", d, len(ents))
		}
		if fi, err := os.Stat(filepath.Join(dir, d)); err != nil || fi.Mode().Perm() != 0o777 {
			t.Errorf("%s: %v %v; the dir itself is kept as it was", d, fi.Mode(), err)
		}
	}
}
