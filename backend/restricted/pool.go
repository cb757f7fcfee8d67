package restricted

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sandrun/sandrun/internal/verdict"
)

// proc is one worker process, seen from the parent.
type proc struct {
	cmd    *exec.Cmd
	pid    int
	in     *bufio.Writer
	inFile *os.File
	out    *bufio.Reader
	stderr *headBuffer
	exited chan struct{} // closed once the process has been reaped
	state  *os.ProcessState

	cpu    time.Duration // whole CPU time as of the last done frame
	runs   int
	limits workerLimits
	group  *workerGroup // nil: no cgroup here (RLIMIT_DATA only)
	log    *slog.Logger

	mu     sync.Mutex
	killed verdict.Kill
}

// startProc starts a worker, moves it into a memory cgroup of its own
// when mg is not nil (before it reads any run), and waits for its hello
// frame.
func startProc(exe string, timeout time.Duration, mg *memGroups, log *slog.Logger) (*proc, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		outR.Close()
		outW.Close()
		return nil, err
	}
	cmd := &exec.Cmd{
		Path:        exe,
		Args:        []string{exe, "__child", RoleWorker},
		Env:         []string{"GOMAXPROCS=1", "GOTRACEBACK=single", "LANG=C.UTF-8"},
		Dir:         "/",
		Stdin:       inR,
		Stdout:      outW,
		Stderr:      errW,
		SysProcAttr: workerSysProcAttr(),
	}
	err = cmd.Start()
	inR.Close()
	outW.Close()
	errW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("starting the worker %s: %w", exe, err)
	}
	p := &proc{
		cmd: cmd, pid: cmd.Process.Pid,
		in: bufio.NewWriterSize(inW, 64<<10), inFile: inW,
		out:    bufio.NewReaderSize(outR, 64<<10),
		stderr: &headBuffer{max: 16 << 10},
		exited: make(chan struct{}),
		log:    log,
	}
	// The first run sets the real limit; until then the worker's own
	// runtime needs no more than the reserve.
	if p.group, err = mg.join(p.pid, DefaultRuntimeReserve+raceReserve); err != nil {
		p.kill(verdict.KillNone)
		inW.Close()
		outR.Close()
		errR.Close()
		_ = cmd.Wait()
		return nil, err
	}
	stderrDone := make(chan struct{})
	go func() {
		// Drain the worker's own stderr (Go runtime crashes) so it never
		// blocks; keep the head.
		_, _ = p.stderr.ReadFrom(errR)
		errR.Close()
		close(stderrDone)
	}()
	go func() {
		_ = cmd.Wait()
		<-stderrDone
		p.state = cmd.ProcessState
		outR.Close()
		close(p.exited)
	}()
	t := time.AfterFunc(timeout, func() { p.kill(verdict.KillTimeout) })
	kind, payload, err := readFrame(p.out, 4096)
	t.Stop()
	if err != nil || kind != frameHello {
		p.kill(verdict.KillNone)
		<-p.exited
		p.group.remove(log)
		return nil, fmt.Errorf("the worker %s did not start (%w): %s", exe, err, bytes.TrimSpace(p.stderr.Bytes()))
	}
	var h helloMsg
	if err := json.Unmarshal(payload, &h); err != nil || h.PID != p.pid {
		p.kill(verdict.KillNone)
		<-p.exited
		p.group.remove(log)
		return nil, fmt.Errorf("the worker %s sent a bad hello %q", exe, payload)
	}
	p.cpu = time.Duration(h.CPUNanos)
	p.limits.pid = p.pid
	return p, nil
}

// kill ends the worker's process group and records why (the first reason
// wins).
func (p *proc) kill(why verdict.Kill) {
	p.mu.Lock()
	if p.killed == verdict.KillNone {
		p.killed = why
	}
	p.mu.Unlock()
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	_ = syscall.Kill(p.pid, syscall.SIGKILL)
}

func (p *proc) killReason() verdict.Kill {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.killed
}

func (p *proc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// retire closes the worker's stdin (it exits on EOF) and kills it should
// it linger; its cgroup goes with it.
func (p *proc) retire() {
	p.inFile.Close()
	select {
	case <-p.exited:
	case <-time.After(time.Second):
		p.kill(verdict.KillNone)
	}
	p.group.remove(p.log)
}

// headBuffer keeps the first max bytes written to it and drops the rest.
type headBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (h *headBuffer) ReadFrom(r *os.File) (int64, error) {
	var total int64
	chunk := make([]byte, 4096)
	for {
		n, err := r.Read(chunk)
		total += int64(n)
		h.mu.Lock()
		if room := h.max - len(h.buf); room > 0 {
			h.buf = append(h.buf, chunk[:min(n, room)]...)
		}
		h.mu.Unlock()
		if err != nil {
			return total, nil
		}
	}
}

func (h *headBuffer) Bytes() []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]byte(nil), h.buf...)
}

// pool keeps warm workers. A worker is reused only after a run that ended
// normally (ok, exit_error, compile_error); one that hit a limit is
// killed, as is one that served MaxRunsPerWorker runs, and replaced in the
// background. A healthy worker goes back after its run, so the pool does
// not churn processes; workers started for a burst beyond Warm are retired
// when they come back.
type pool struct {
	mg           *memGroups // nil: workers without a cgroup
	exe          string
	warm         int
	startTimeout time.Duration
	log          *slog.Logger

	ready    chan *proc
	starting atomic.Int32
	closed   atomic.Bool
	wg       sync.WaitGroup
}

// newPool makes a pool; prestart starts the warm workers now rather than
// as runs consume them.
func newPool(exe string, warm int, prestart bool, startTimeout time.Duration, mg *memGroups, log *slog.Logger) *pool {
	p := &pool{exe: exe, warm: warm, startTimeout: startTimeout, mg: mg, log: log, ready: make(chan *proc, warm)}
	if prestart {
		p.refill()
	}
	return p
}

// get returns a worker: a warm one, one being started, or a new one.
func (p *pool) get() (*proc, error) {
	if p.closed.Load() {
		return nil, errors.New("the restricted backend is closed")
	}
	for {
		select {
		case w := <-p.ready:
			if !w.alive() {
				w.group.remove(p.log)
				continue
			}
			return w, nil
		default:
		}
		if p.starting.Load() == 0 {
			break
		}
		select {
		case w := <-p.ready:
			if !w.alive() {
				w.group.remove(p.log)
				continue
			}
			return w, nil
		case <-time.After(p.startTimeout):
		}
		break
	}
	// A cold start: the worker goes back to the pool after its run, so a
	// one-shot caller (the CLI) starts exactly one.
	return startProc(p.exe, p.startTimeout, p.mg, p.log)
}

// discard kills a worker that must not serve again and starts a
// replacement in the background.
func (p *pool) discard(w *proc) {
	w.kill(verdict.KillNone)
	w.group.remove(p.log)
	p.refill()
}

// put gives a worker back, or retires it when the pool is full or closed.
func (p *pool) put(w *proc) {
	if p.closed.Load() || !w.alive() {
		go w.retire()
		return
	}
	select {
	case p.ready <- w:
	default:
		go w.retire()
	}
}

// refill starts workers in the background up to the warm count.
func (p *pool) refill() {
	for !p.closed.Load() && int(p.starting.Load())+len(p.ready) < p.warm {
		p.starting.Add(1)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			w, err := startProc(p.exe, p.startTimeout, p.mg, p.log)
			p.starting.Add(-1)
			if err != nil {
				p.log.Warn("starting a warm Starlark worker", "err", err)
				return
			}
			p.put(w)
		}()
		if p.starting.Load() > int32(p.warm) {
			break
		}
	}
}

// close retires every idle worker and waits for starting ones.
func (p *pool) close() {
	p.closed.Store(true)
	p.wg.Wait()
	for {
		select {
		case w := <-p.ready:
			w.retire()
		default:
			return
		}
	}
}
