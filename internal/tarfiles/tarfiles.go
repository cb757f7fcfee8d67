// Package tarfiles writes a run's files into a tar archive: the archive
// the container tiers (docker, kubernetes) send in their boot payload,
// which tar inside the container unpacks into /work.
package tarfiles

import (
	"archive/tar"
	"bytes"
	"path"
	"sort"
	"time"

	"github.com/sandrun/sandrun"
)

// Build returns a tar of files: a directory entry (mode 0700) for every
// parent directory, parents first, then each file (mode 0600) under its
// cleaned name, in order (of two files with one name, the later wins when
// unpacked). Every file is checked (sandrun.InputFile.Checked) before
// anything is written. mtime stamps every entry.
func Build(files []sandrun.InputFile, mtime time.Time) ([]byte, error) {
	dirs := map[string]bool{}
	bodies := make([][]byte, len(files))
	for i, f := range files {
		b, err := f.Checked()
		if err != nil {
			return nil, err
		}
		bodies[i] = b
		for d := path.Dir(path.Clean(f.Name)); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	dl := make([]string, 0, len(dirs))
	for d := range dirs {
		dl = append(dl, d)
	}
	sort.Strings(dl) // parents before children
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, d := range dl {
		if err := tw.WriteHeader(&tar.Header{Name: d + "/", Mode: 0o700, ModTime: mtime, Typeflag: tar.TypeDir}); err != nil {
			return nil, err
		}
	}
	for i, f := range files {
		body := bodies[i]
		hdr := &tar.Header{Name: path.Clean(f.Name), Mode: 0o600, Size: int64(len(body)), ModTime: mtime, Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return tb.Bytes(), nil
}
