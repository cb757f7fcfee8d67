//go:build !linux

package restricted

import (
	"errors"
	"time"
)

// errUnsupported: the worker's memory bound (RLIMIT_DATA through prlimit)
// cannot be applied on this OS, so worker runs are refused (fail closed).
// Options.InProcess still works, with its documented downgrade.
var errUnsupported = errors.New("the restricted tier's worker needs Linux (its memory bound is RLIMIT_DATA set with prlimit); use Options.InProcess to run without a memory bound")

func platformCheck() error              { return errUnsupported }
func prepareWorker() error              { return errUnsupported }
func limitData(int64) error             { return errUnsupported }
func resetPeak()                        {}
func selfUsage() (time.Duration, int64) { return 0, 0 }
func afterRun()                         {}

type workerLimits struct{ pid int }

func (*workerLimits) set(int64, time.Duration, time.Duration) error { return errUnsupported }
func threadCPU() time.Duration                                      { return 0 }
func lockThread()                                                   {}
func unlockThread()                                                 {}
