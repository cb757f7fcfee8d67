package docker

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

// Output files. /work is a tmpfs that ends with the container, so
// CopyFromContainer after the exit finds nothing, and a copy while the
// program still runs races it. Instead, when a request collects files, the
// boot script does not exec the program: it runs it, kills whatever the
// program left behind (kill -9 -1 as nobody reaches only the container's
// own processes), writes a random per-run mark on stdout, then a tar of
// /work, and exits with the program's status. The supervisor splits
// stdout at the mark: before it is the program's output (capped as
// always), after it the archive (capped at the collect limits), read in
// memory and never written to the host's disk.
//
// The program can read the mark (/proc/1/cmdline) and forge an archive,
// but that only forges its own output files, which it could write anyway.
const collectTail = `set +e
"$@"
st=$?
kill -9 -1 2>/dev/null
printf '%%s' '%s'
tar -c -f - -C /work . 2>/dev/null
exit $st`

// collectCap bounds the archive the supervisor keeps: the collected
// files' caps plus tar's headers.
const (
	// One more file than the stated cap says more matched: the
	// pipeline keeps sandrun.MaxCollectFiles and flags the run.
	collectMaxFiles = sandrun.MaxCollectFiles + 1
	collectMaxTotal = 8 << 20
	collectCap      = collectMaxTotal + 2<<20
)

// markSplitter passes bytes to out until mark appears, then to the
// archive buffer. It holds back len(mark)-1 bytes that might start the
// mark, so a mark split across writes is still found.
type markSplitter struct {
	mark []byte
	out  io.Writer

	mu      sync.Mutex
	pending []byte
	found   bool
	archive bytes.Buffer
	over    bool
}

func (m *markSplitter) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.found {
		m.keep(p)
		return len(p), nil
	}
	buf := append(m.pending, p...)
	if i := bytes.Index(buf, m.mark); i >= 0 {
		m.found = true
		if i > 0 {
			m.out.Write(buf[:i])
		}
		m.keep(buf[i+len(m.mark):])
		m.pending = nil
		return len(p), nil
	}
	hold := min(len(m.mark)-1, len(buf))
	// Only a suffix that is a prefix of the mark must wait.
	for ; hold > 0; hold-- {
		if bytes.HasPrefix(m.mark, buf[len(buf)-hold:]) {
			break
		}
	}
	if n := len(buf) - hold; n > 0 {
		m.out.Write(buf[:n])
	}
	m.pending = append([]byte(nil), buf[len(buf)-hold:]...)
	return len(p), nil
}

func (m *markSplitter) keep(p []byte) {
	room := collectCap - m.archive.Len()
	if len(p) > room {
		p = p[:max(room, 0)]
		m.over = true
	}
	m.archive.Write(p)
}

// flush hands back held bytes when the mark never came (the program was
// killed before the script reached it).
func (m *markSplitter) flush() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.found && len(m.pending) > 0 {
		m.out.Write(m.pending)
		m.pending = nil
	}
}

// files parses the archive and returns the regular files matching globs,
// with the same caps and shape as workdir.Collect.
func (m *markSplitter) files(globs []string, maxFile int64) ([]sandrun.OutputFile, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.found {
		return nil, nil
	}
	tr := tar.NewReader(bytes.NewReader(m.archive.Bytes()))
	var out []sandrun.OutputFile
	var total int64
	for {
		h, err := tr.Next()
		if err != nil {
			if errors.Is(err, io.EOF) || m.over || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue // symlinks, devices, directories: never followed, never returned
		}
		name := strings.TrimPrefix(path.Clean(h.Name), "./")
		if sandrun.ValidateFileName(name) != nil || !matchAny(globs, name) || len(out) >= collectMaxFiles {
			continue
		}
		capN := min(maxFile, collectMaxTotal-total)
		b, _ := io.ReadAll(io.LimitReader(tr, max(capN, 0)))
		total += int64(len(b))
		sum := sha256.Sum256(b)
		out = append(out, sandrun.OutputFile{Name: name, Size: h.Size, SHA256: hex.EncodeToString(sum[:]),
			Content: b, Truncated: int64(len(b)) < h.Size})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func matchAny(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}
