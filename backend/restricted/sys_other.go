//go:build !linux

package restricted

import (
	"errors"
	"log/slog"
	"syscall"
	"time"
)

// errUnsupported: the worker's memory bound (RLIMIT_DATA through prlimit)
// cannot be applied on this OS, so worker runs are refused (fail closed).
// Options.InProcess still works, with its documented downgrade.
var errUnsupported = errors.New("the restricted tier's worker needs Linux (its memory bound is RLIMIT_DATA set with prlimit); use Options.InProcess to run without a memory bound")

func platformCheck() error  { return errUnsupported }
func prepareWorker() error  { return errUnsupported }
func limitData(int64) error { return errUnsupported }

type peakMark struct{}

func openPeakMark() *peakMark           { return &peakMark{} }
func (*peakMark) reset()                {}
func selfUsage() (time.Duration, int64) { return 0, 0 }
func afterRun(*peakMark)                {}

type workerLimits struct{ pid int }

func (*workerLimits) set(int64, time.Duration, time.Duration) error { return errUnsupported }
func threadCPU() time.Duration                                      { return 0 }
func lockThread()                                                   {}
func unlockThread()                                                 {}

func workerSysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

type memGroups struct{}

type workerGroup struct{}

func newMemGroups(*slog.Logger) (*memGroups, error)      { return nil, errUnsupported }
func (*memGroups) join(int, int64) (*workerGroup, error) { return nil, nil }
func (*workerGroup) prepare(int64) error                 { return nil }
func (*workerGroup) oomKilled() bool                     { return false }
func (*workerGroup) remove(*slog.Logger)                 {}
