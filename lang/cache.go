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
// shim: a chain of about forty bash execs) before every run. An entry is
// used only while its key still holds, which a few stats check (no exec):
// the search PATH and the probe's environment, the candidate the PATH
// lookup finds and the identity (device, inode, size, mtime) of that file,
// of the files the spec says the answer depends on (pyenv's version file)
// and of the running sandrun binary (the code that built the answer), then
// the identity of the resolved interpreter and the existence of every
// runtime path. Failed probes are never stored.

// cacheVersion changes when the file's format does.
const cacheVersion = 1

// cacheFile is the file's name inside the cache directory.
const cacheFile = "languages.json"

// perLanguage bounds the entries kept for one language (different PATHs,
// binaries, test binaries), newest first.
const perLanguage = 8

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
	Env       []string `json:"env"` // the probe's environment
	Candidate string   `json:"candidate"`
	// Files: the candidate, the spec's dependencies, the sandrun binary.
	Files []fileID `json:"files"`
}

func (k *cacheKey) equal(o *cacheKey) bool {
	return k.Search == o.Search && k.Candidate == o.Candidate && slices.Equal(k.Env, o.Env) && slices.Equal(k.Files, o.Files)
}

// cacheEntry is one stored answer.
type cacheEntry struct {
	Name     string         `json:"name"`
	Key      cacheKey       `json:"key"`
	Interp   fileID         `json:"interpreter_id"`
	Language cachedLanguage `json:"language"`
	Stored   time.Time      `json:"stored"`
}

// cachedLanguage stores every field of a Language, OOMMarkers included
// (the API's JSON leaves them out).
type cachedLanguage struct {
	Language
	OOMMarkers []string `json:"oom_markers,omitempty"`
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

// load returns the stored answer for name under key, if its interpreter
// and runtime paths are still those it found.
func (c *diskCache) load(name string, key *cacheKey) *Language {
	for _, e := range c.read().Entries {
		if e.Name != name || !e.Key.equal(key) {
			continue
		}
		l := e.Language.Language
		l.OOMMarkers = e.Language.OOMMarkers
		if !filepath.IsAbs(l.Interpreter) || identify(l.Interpreter) != e.Interp {
			return nil
		}
		for _, p := range l.Paths {
			if !filepath.IsAbs(p) {
				return nil
			}
			if _, err := os.Lstat(p); err != nil {
				return nil
			}
		}
		return &l
	}
	return nil
}

// store adds an answer (replacing one under the same key) and writes the
// file atomically. Several processes may store at once: the last rename
// wins, and a lost entry only costs a later probe.
func (c *diskCache) store(name string, key *cacheKey, l *Language) error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return err
	}
	if err := trusted(c.dir); err != nil {
		return err
	}
	doc := c.read()
	e := cacheEntry{Name: name, Key: *key, Interp: identify(l.Interpreter), Language: cachedLanguage{Language: *l, OOMMarkers: l.OOMMarkers}, Stored: time.Now().UTC()}
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
