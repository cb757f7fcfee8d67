//go:build linux

package restricted

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func platformCheck() error { return nil }

// workerSysProcAttr: the worker leads its own session, and dies with
// SIGKILL when the supervisor dies.
func workerSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
}

// prepareWorker sets the worker's fixed limits before it reads any
// request: no core dumps, no files written, few descriptors, and no way
// to gain privileges through exec. The per-run limits (memory, CPU) are
// applied by the parent with prlimit before each run frame.
func prepareWorker() error {
	for _, l := range []struct {
		name string
		res  int
		v    uint64
	}{
		{"RLIMIT_CORE", unix.RLIMIT_CORE, 0},
		{"RLIMIT_FSIZE", unix.RLIMIT_FSIZE, 0},
		{"RLIMIT_NOFILE", unix.RLIMIT_NOFILE, 64},
	} {
		if err := unix.Setrlimit(l.res, &unix.Rlimit{Cur: l.v, Max: l.v}); err != nil {
			return fmt.Errorf("%s: %w", l.name, err)
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	dieOnCPULimit()
	spareThreads(spareOSThreads)
	return nil
}

// spareOSThreads is how many idle OS threads a worker starts before its
// first run: see spareThreads.
const spareOSThreads = 6

// spareThreads makes the Go runtime start n OS threads now and keep them
// idle. A thread's stack is a data mapping, so under RLIMIT_DATA a memory
// bomb that uses the segment up leaves no room for the new thread the
// runtime wants at that moment (a blocking system call, the garbage
// collector, the out-of-memory report itself): pthread_create failed and
// the run ended internal_error instead of memory_limit. The runtime
// reuses idle threads before it makes new ones, and never ends one that a
// goroutine unlocked.
func spareThreads(n int) {
	var started, release sync.WaitGroup
	started.Add(n)
	release.Add(1)
	var done sync.WaitGroup
	done.Add(n)
	for range n {
		go func() {
			defer done.Done()
			runtime.LockOSThread() // a thread of its own while the others start
			started.Done()
			release.Wait()
			runtime.UnlockOSThread() // back to the idle list, not ended
		}()
	}
	started.Wait()
	release.Done()
	done.Wait()
}

// limitData caps the process's data segment (heap and goroutine stacks):
// the memory bound of a Go interpreter. RLIMIT_AS does not fit Go, whose
// runtime reserves over a gigabyte of address space at start.
func limitData(n int64) error {
	return unix.Setrlimit(unix.RLIMIT_DATA, &unix.Rlimit{Cur: uint64(n), Max: uint64(n)})
}

// peakMark resets the kernel's peak-RSS mark, so that the next run's peak
// is its own (see proc(5), clear_refs value 5). The file stays open: opening
// it costs more than the write.
type peakMark struct{ f *os.File }

func openPeakMark() *peakMark {
	f, err := os.OpenFile("/proc/self/clear_refs", os.O_WRONLY, 0)
	if err != nil {
		return &peakMark{} // no peak figures then; the run is unaffected
	}
	return &peakMark{f: f}
}

func (p *peakMark) reset() {
	if p.f != nil {
		_, _ = p.f.Write([]byte("5"))
	}
}

// selfUsage is the process's whole CPU time and its peak RSS since the
// last peakMark.reset.
func selfUsage() (time.Duration, int64) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	// ru_maxrss is the mm's high-water mark, which peakMark.reset resets.
	return cpu, ru.Maxrss * 1024
}

// afterRun returns a large heap to the kernel between runs, so that one
// big run does not keep the worker's RSS up for the next ones, and resets
// the peak mark.
func afterRun(p *peakMark) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 && s[0].Value.Uint64() > 32<<20 {
		debug.FreeOSMemory()
	}
	p.reset()
}

// workerLimits applies one run's limits to an idle worker: its data
// segment, and its CPU time counted from what it has used so far (CPU
// limits are cumulative for a process). Only soft limits change: raising a
// hard limit needs CAP_SYS_RESOURCE, which the supervisor may not have,
// and the next run may want more than this one. The kernel enforces the
// soft RLIMIT_DATA; at the soft RLIMIT_CPU it sends SIGXCPU, on which the
// worker kills itself (the Go runtime would ignore it). The last values
// set are remembered, so a run like the previous one costs no system call.
type workerLimits struct {
	pid      int
	hard     [2]uint64 // RLIMIT_DATA, RLIMIT_CPU hard limits, read once
	cur      [2]uint64
	haveHard bool
}

var limitResources = [2]struct {
	name string
	res  int
}{{"RLIMIT_DATA", unix.RLIMIT_DATA}, {"RLIMIT_CPU", unix.RLIMIT_CPU}}

func (w *workerLimits) set(data int64, cpuUsed, cpuLimit time.Duration) error {
	if !w.haveHard {
		for i, r := range limitResources {
			var old unix.Rlimit
			if err := unix.Prlimit(w.pid, r.res, nil, &old); err != nil {
				return fmt.Errorf("%s: %w", r.name, err)
			}
			w.hard[i] = old.Max
		}
		w.haveHard = true
	}
	want := [2]uint64{uint64(data), uint64((cpuUsed + cpuLimit + time.Second - 1) / time.Second)}
	for i, r := range limitResources {
		if want[i] == w.cur[i] {
			continue
		}
		if want[i] > w.hard[i] {
			return fmt.Errorf("%s: %d is above the worker's hard limit %d", r.name, want[i], w.hard[i])
		}
		if err := unix.Prlimit(w.pid, r.res, &unix.Rlimit{Cur: want[i], Max: w.hard[i]}, nil); err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
		w.cur[i] = want[i]
	}
	return nil
}

// dieOnCPULimit makes SIGXCPU fatal: the worker kills itself with
// SIGKILL, which the parent reads as the CPU limit.
func dieOnCPULimit() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGXCPU)
	go func() {
		<-ch
		fmt.Fprintln(os.Stderr, cpuLimitMarker)
		_ = unix.Kill(os.Getpid(), unix.SIGKILL)
	}()
}

// threadCPU is the calling thread's CPU time (for in-process runs; the
// caller locks the goroutine to its thread).
func threadCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func lockThread()   { runtime.LockOSThread() }
func unlockThread() { runtime.UnlockOSThread() }
