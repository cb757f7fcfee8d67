// Package markstream splits a container's stdout at a per-run mark: the
// program's output before it, what the boot script sends after the program
// ended (an archive of the work directory, a trailer) after it. The
// container tiers use it to bring files back from a work directory that is
// a tmpfs ending with the container, in the same stream, without writing
// them to the host's disk.
package markstream

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/sandrun/sandrun"
)

// Caps on what Files returns: the number of files and their total size.
// One file more than sandrun.MaxCollectFiles says that more matched: the
// pipeline keeps MaxCollectFiles and flags the run.
const (
	MaxFiles = sandrun.MaxCollectFiles + 1
	MaxTotal = 8 << 20
	// DefaultCap bounds what a Splitter keeps after the mark: the
	// collected files' caps plus tar's headers.
	DefaultCap = MaxTotal + 2<<20
)

// Splitter passes bytes to Out until Mark appears, then keeps them (up to
// Cap, default DefaultCap). It holds back len(Mark)-1 bytes that might
// start the mark, so a mark split across writes is still found.
type Splitter struct {
	Mark []byte
	Out  io.Writer
	Cap  int

	mu      sync.Mutex
	pending []byte
	found   bool
	rest    bytes.Buffer
	over    bool
}

// Write implements io.Writer; it never fails.
func (m *Splitter) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.found {
		m.keep(p)
		return len(p), nil
	}
	buf := append(m.pending, p...)
	if i := bytes.Index(buf, m.Mark); i >= 0 {
		m.found = true
		if i > 0 {
			m.Out.Write(buf[:i])
		}
		m.keep(buf[i+len(m.Mark):])
		m.pending = nil
		return len(p), nil
	}
	hold := min(len(m.Mark)-1, len(buf))
	// Only a suffix that is a prefix of the mark must wait.
	for ; hold > 0; hold-- {
		if bytes.HasPrefix(m.Mark, buf[len(buf)-hold:]) {
			break
		}
	}
	if n := len(buf) - hold; n > 0 {
		m.Out.Write(buf[:n])
	}
	m.pending = append([]byte(nil), buf[len(buf)-hold:]...)
	return len(p), nil
}

func (m *Splitter) keep(p []byte) {
	limit := m.Cap
	if limit <= 0 {
		limit = DefaultCap
	}
	room := limit - m.rest.Len()
	if len(p) > room {
		p = p[:max(room, 0)]
		m.over = true
	}
	m.rest.Write(p)
}

// Flush hands back held bytes when the mark never came (the program was
// killed before the script reached it).
func (m *Splitter) Flush() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.found && len(m.pending) > 0 {
		m.Out.Write(m.pending)
		m.pending = nil
	}
}

// Found reports whether the mark came.
func (m *Splitter) Found() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.found
}

// Rest returns what came after the mark and whether it was cut at Cap.
func (m *Splitter) Rest() ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rest.Bytes(), m.over
}

// Files parses what came after the mark as a tar archive (see Files).
func (m *Splitter) Files(globs []string, maxFile int64) ([]sandrun.OutputFile, error) {
	if !m.Found() {
		return nil, nil
	}
	rest, over := m.Rest()
	return Files(rest, over, globs, maxFile)
}

// Files returns the regular files of a tar archive whose names match
// globs, each cut at maxFile, at most MaxFiles of them and MaxTotal bytes
// in all, sorted by name. Symlinks, devices and directories are never
// followed or returned. truncated says the archive was cut short: a
// broken end is then not an error.
func Files(archive []byte, truncated bool, globs []string, maxFile int64) ([]sandrun.OutputFile, error) {
	tr := tar.NewReader(bytes.NewReader(archive))
	var out []sandrun.OutputFile
	var total int64
	for {
		h, err := tr.Next()
		if err != nil {
			if errors.Is(err, io.EOF) || truncated || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := strings.TrimPrefix(path.Clean(h.Name), "./")
		if sandrun.ValidateFileName(name) != nil || !MatchAny(globs, name) || len(out) >= MaxFiles {
			continue
		}
		capN := min(maxFile, MaxTotal-total)
		b, _ := io.ReadAll(io.LimitReader(tr, max(capN, 0)))
		total += int64(len(b))
		sum := sha256.Sum256(b)
		out = append(out, sandrun.OutputFile{Name: name, Size: h.Size, SHA256: hex.EncodeToString(sum[:]),
			Content: b, Truncated: int64(len(b)) < h.Size})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// MatchAny reports whether name matches one of globs (path.Match).
func MatchAny(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}
