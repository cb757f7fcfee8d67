package lang

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// The discovery cache keeps what a probe found across processes, so that a
// one-shot `sandrun run` does not start the interpreter (through a pyenv
// shim: a chain of about forty bash execs) before every run. It keeps the
// probe's raw facts (what the interpreter said of itself), not the
// Language: that is built from the facts by the running sandrun, so its
// code's changes apply at once and every sandrun binary on the host shares
// the entries. An entry is used only while its key still holds, which a
// few stats check (no exec): the search PATH, the probe's environment and
// text, the candidate the PATH lookup finds and the identity (device,
// inode, size, mtime) of that file and of the files the spec says the
// answer depends on (pyenv's version file); then the resolved
// interpreter's identity and the existence of every runtime path. Failed
// probes are never stored.

// cacheVersion changes when the file's format does; each format has its
// own file, so sandrun binaries of different versions on one host do not
// overwrite each other's entries.
const cacheVersion = 2

// cacheFile is the file's name inside the cache directory.
const cacheFile = "languages-v2.json"

// perLanguage bounds the entries kept for one language (different PATHs
// or environments), newest first.
const perLanguage = 16

// fileID is what identifies a file's content without reading it.
type fileID struct {
	Path    string `json:"path"`
	Missing bool   `json:"missing,omitempty"`
	Dev     uint64 `json:"dev,omitempty"`
	Ino     uint64 `json:"ino,omitempty"`
	Size    int64  `json:"size,omitempty"`
	MtimeNs int64  `json:"mtime_ns,omitempty"`
}

// identify stats p (following symlinks). A missing file is an identity
// too: its appearance changes the key.
func identify(p string) fileID {
	fi, err := os.Stat(p)
	if err != nil {
		return fileID{Path: p, Missing: true}
	}
	id := fileID{Path: p, Size: fi.Size(), MtimeNs: fi.ModTime().UnixNano()}
	id.Dev, id.Ino, _ = fileOwner(fi)
	return id
}

// cacheKey is what the answer of a probe depends on.
type cacheKey struct {
	Search    string   `json:"search"`
	Env       []string `json:"env"`   // the probe's environment
	Probe     string   `json:"probe"` // the probe's text (Facts.Key)
	Candidate string   `json:"candidate"`
	// Files: the candidate, then the spec's dependencies.
	Files []fileID `json:"files"`
}

func (k *cacheKey) equal(o *cacheKey) bool {
	return k.Search == o.Search && k.Probe == o.Probe && k.Candidate == o.Candidate && slices.Equal(k.Env, o.Env) && slices.Equal(k.Files, o.Files)
}

// cacheEntry is one stored answer: the facts, and the identity of the
// interpreter the Language built from them named when they were stored.
type cacheEntry struct {
	Name   string            `json:"name"`
	Key    cacheKey          `json:"key"`
	Facts  map[string]string `json:"facts"`
	Interp fileID            `json:"interpreter_id"`
	Stored time.Time         `json:"stored"`
}

type cacheDoc struct {
	Version int          `json:"version"`
	Entries []cacheEntry `json:"entries"`
}

// diskCache is the cache file in one directory.
type diskCache struct {
	dir string
}

// defaultCacheDir is /var/cache/sandrun for root, else the user's cache
// directory ($XDG_CACHE_HOME or ~/.cache) plus sandrun.
func defaultCacheDir() string {
	if os.Geteuid() == 0 {
		return "/var/cache/sandrun"
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "sandrun")
}

// trusted checks that a cache path belongs to this user and that no one
// else may write it: the entry decides which host paths a jail binds and
// which binary it runs.
func trusted(p string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if _, _, uid := fileOwner(fi); uid != os.Geteuid() {
		return fmt.Errorf("%s is not owned by uid %d", p, os.Geteuid())
	}
	if fi.Mode()&0o022 != 0 || fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("%s is writable by others or a symlink", p)
	}
	return nil
}

// read loads the document; a missing, untrusted or unreadable file is an
// empty cache.
func (c *diskCache) read() *cacheDoc {
	doc := &cacheDoc{Version: cacheVersion}
	p := filepath.Join(c.dir, cacheFile)
	if trusted(c.dir) != nil || trusted(p) != nil {
		return doc
	}
	f, err := os.Open(p)
	if err != nil {
		return doc
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return doc
	}
	var got cacheDoc
	if json.Unmarshal(b, &got) != nil || got.Version != cacheVersion {
		return doc
	}
	return &got
}

// load returns the stored facts for name under key and the identity of
// the interpreter they named.
func (c *diskCache) load(name string, key *cacheKey) (map[string]string, fileID, bool) {
	for _, e := range c.read().Entries {
		if e.Name == name && e.Key.equal(key) && e.Facts != nil {
			return e.Facts, e.Interp, true
		}
	}
	return nil, fileID{}, false
}

// pathsExist: every runtime path is still there (absolute, as built).
func pathsExist(ps []string) bool {
	for _, p := range ps {
		if !filepath.IsAbs(p) {
			return false
		}
		if _, err := os.Lstat(p); err != nil {
			return false
		}
	}
	return true
}

// store adds an answer (replacing one under the same key) and writes the
// file atomically. Several processes may store at once: the last rename
// wins, and a lost entry only costs a later probe.
func (c *diskCache) store(name string, key *cacheKey, facts map[string]string, interp fileID) error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return err
	}
	if err := trusted(c.dir); err != nil {
		return err
	}
	doc := c.read()
	e := cacheEntry{Name: name, Key: *key, Facts: facts, Interp: interp, Stored: time.Now().UTC()}
	out := []cacheEntry{e}
	kept := 1
	for _, old := range doc.Entries {
		if old.Name == name {
			if old.Key.equal(key) || kept >= perLanguage {
				continue
			}
			kept++
		}
		out = append(out, old)
	}
	doc.Version, doc.Entries = cacheVersion, out
	b, err := json.MarshalIndent(doc, "", " ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(c.dir, cacheFile+".*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(c.dir, cacheFile)); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
