package kubernetes

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/tarfiles"
	"github.com/sandrun/sandrun/lang"
)

// imageOf is language's entry in the catalogue when it runs in a
// container image (it has an ImageArgv).
func imageOf(language string) (lang.Info, bool) {
	l, ok := lang.About(language)
	return l, ok && len(l.ImageArgv) > 0
}

// imageCommand is the program's argv in the image for the code file.
func imageCommand(l lang.Info, memory int64, args []string) []string {
	return (&lang.Language{Argv: l.ImageArgv}).Command(l.FileName, memory, args)
}

// quote returns s as one single-quoted shell word. Every byte but NUL
// (which Request.Validate refuses) stands for itself inside single quotes;
// a quote is closed, escaped and reopened.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// controlScript is the shell script the boot script evaluates (see
// bootScript): it unpacks the work directory from stdin, runs the program
// under its rlimits with exactly the allowlisted environment, and, once
// the program ended, kills what it left behind, writes the mark, a trailer
// (the exit status and the CPU time of the program's process tree, from
// the shell's `times`) and, when the request collects files, a tar of
// /work.
//
// A one-shot run's stdin is the next section of the stream: the shell
// stores it in /dev/shm, opens it and unlinks it before the program starts
// (the program's stdin is that open file). After the archive the shell
// writes the mark a second time and waits for its own stdin to close: the
// supervisor closes it once it has read that second mark, so the pod does
// not end (and the attach stream with it) before every byte of output has
// arrived. A launched process (oneShot false) reads the stream itself, as
// a session's driver does, and the shell exits when it ends.
//
// The pod runs as a uid of its own (runUID), so RLIMIT_NPROC counts this
// run's processes alone, and `kill -9 -1` (as that uid, in the pod's own
// pid namespace) reaches only them; pid 1, the boot shell, survives it.
func controlScript(argv []string, req *sandrun.Request, mark string, oneShot bool) string {
	lim := req.Limits
	cpu := int64((lim.CPUTime.D() + time.Second - 1) / time.Second)
	var b strings.Builder
	b.WriteString("IFS= read -r n\n")
	b.WriteString(`head -c "$n" | tar -x -f - -C /work` + "\n")
	stdin := ""
	if oneShot {
		b.WriteString(`IFS= read -r n
in=/dev/null
if [ "$n" -gt 0 ]; then in=/dev/shm/.sandrun-stdin; head -c "$n" > "$in"; fi
exec 3< "$in"
rm -f /dev/shm/.sandrun-stdin
`)
		stdin = " <&3 3<&-"
	}
	b.WriteString("cd /work\nset +e\n")
	// SIGXCPU at the CPU limit, SIGKILL a second later; no core files.
	fmt.Fprintf(&b, "prlimit --cpu=%d:%d --fsize=%d --nofile=%d --nproc=%d --core=0 -- env -i",
		cpu, cpu+1, int64(lim.FileSize), lim.OpenFiles, lim.Processes)
	for _, kv := range environment(req) {
		b.WriteString(" " + quote(kv))
	}
	for _, a := range argv {
		b.WriteString(" " + quote(a))
	}
	b.WriteString(stdin)
	b.WriteString("\nst=$?\nkill -9 -1 2>/dev/null\n")
	fmt.Fprintf(&b, "printf '%%s' %s\n", quote(mark))
	b.WriteString(`printf 'status %d\n' "$st"
times
printf 'end\n'
`)
	if len(req.Collect) > 0 {
		b.WriteString("tar -c -f - -C /work . 2>/dev/null\n")
	}
	if oneShot {
		fmt.Fprintf(&b, "printf '%%s' %s\nIFS= read -r n || true\n", quote(mark))
	}
	b.WriteString("exit $st\n")
	return b.String()
}

// environment is the program's whole environment: the base the other
// tiers give, then the request's allowlist.
func environment(req *sandrun.Request) []string {
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/work", "LANG=C.UTF-8", "TMPDIR=/tmp"}
	keys := make([]string, 0, len(req.Env))
	for k := range req.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "LANG" || k == "TMPDIR" {
			// The request's value wins over the base one.
			for i, kv := range env {
				if strings.HasPrefix(kv, k+"=") {
					env = append(env[:i], env[i+1:]...)
					break
				}
			}
		}
		env = append(env, k+"="+req.Env[k])
	}
	return env
}

// payload is what goes to the run container's stdin: the control script's
// size and text, the work directory archive's size and bytes (the code
// file, unless the request has no code, and the request's files), then
// the program's stdin: a sized section for a one-shot run, the raw stream
// for a launched process. `read` and `head -c` never read past what they
// need. argv is the program's command line in the image.
func payload(fileName string, argv []string, req *sandrun.Request, mark string, oneShot bool) ([]byte, error) {
	files := req.Files
	if req.Code != "" {
		files = append(files[:len(files):len(files)], sandrun.InputFile{Name: fileName, Content: req.Code})
	}
	ar, err := tarfiles.Build(files, time.Now())
	if err != nil {
		return nil, err
	}
	ctl := controlScript(argv, req, mark, oneShot)
	out := make([]byte, 0, len(ctl)+len(ar)+len(req.Stdin)+32)
	out = strconv.AppendInt(out, int64(len(ctl)), 10)
	out = append(out, '\n')
	out = append(out, ctl...)
	out = strconv.AppendInt(out, int64(len(ar)), 10)
	out = append(out, '\n')
	out = append(out, ar...)
	if oneShot {
		out = strconv.AppendInt(out, int64(len(req.Stdin)), 10)
		out = append(out, '\n')
	}
	return append(out, req.Stdin...), nil
}

// trailer is what the boot script reports after the program ended. It
// comes from inside the pod, so a program that learned the mark could
// forge it; it carries only what the program decides anyway (its exit
// status) and its own CPU time. Limits never depend on it: the supervisor
// enforces wall time and output, the kernel memory, CPU and files, and an
// out-of-memory kill is the kubelet's report.
type trailer struct {
	Status int
	CPU    time.Duration
}

// parseTrailer reads the trailer at the start of rest and returns it and
// what follows it (the archive, if any).
func parseTrailer(rest []byte) (trailer, []byte, bool) {
	var t trailer
	r := bufio.NewReader(bytes.NewReader(rest))
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "status ") {
		return t, nil, false
	}
	st, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "status ")))
	if err != nil {
		return t, nil, false
	}
	t.Status = st
	consumed := len(line)
	// `times` prints two lines, the shell's and its children's user and
	// system time ("0m0.030000s 0m0.010000s"); the second is the program's
	// whole (waited) process tree.
	for n := 0; ; n++ {
		line, err := r.ReadString('\n')
		if err != nil {
			return t, nil, false
		}
		consumed += len(line)
		line = strings.TrimSuffix(line, "\n")
		if line == "end" {
			return t, rest[consumed:], true
		}
		if n == 1 {
			for _, f := range strings.Fields(line) {
				t.CPU += shellDuration(f)
			}
		}
	}
}

// shellDuration parses the shell's "1m2.500000s".
func shellDuration(s string) time.Duration {
	m, sec, ok := strings.Cut(strings.TrimSuffix(s, "s"), "m")
	if !ok {
		return 0
	}
	mi, err1 := strconv.Atoi(m)
	f, err2 := strconv.ParseFloat(sec, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(mi)*time.Minute + time.Duration(f*float64(time.Second))
}

// endWatch passes a stream on and reports when mark has gone by twice
// (the one-shot run's end, see controlScript): it keeps the stream's last
// len(mark)-1 bytes so a mark split across writes is counted.
type endWatch struct {
	mark []byte
	out  io.Writer
	done func()

	mu   sync.Mutex
	tail []byte
	seen int
}

func (e *endWatch) Write(p []byte) (int, error) {
	n, err := e.out.Write(p)
	e.mu.Lock()
	buf := append(e.tail, p...)
	e.seen += bytes.Count(buf, e.mark)
	keep := min(len(e.mark)-1, len(buf))
	if i := bytes.LastIndex(buf, e.mark); i >= 0 && len(buf)-(i+len(e.mark)) < keep {
		keep = len(buf) - (i + len(e.mark)) // never count a mark twice
	}
	e.tail = append([]byte(nil), buf[len(buf)-keep:]...)
	fire := e.seen >= 2
	e.mu.Unlock()
	if fire {
		e.done()
	}
	return n, err
}

// holdOpen is a one-shot run's stdin: the payload, then nothing until
// release, then EOF (which closes the container's stdin).
type holdOpen struct {
	r    io.Reader
	rel  chan struct{}
	once sync.Once
}

func newHoldOpen(payload []byte) *holdOpen {
	return &holdOpen{r: bytes.NewReader(payload), rel: make(chan struct{})}
}

func (h *holdOpen) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if err == io.EOF {
		<-h.rel
	}
	return n, err
}

func (h *holdOpen) release() { h.once.Do(func() { close(h.rel) }) }
