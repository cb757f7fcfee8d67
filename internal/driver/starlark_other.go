//go:build !linux

package driver

import (
	"errors"
	"time"
)

// The data-segment cap is the Starlark driver's memory bound; without it
// the driver refuses to start (fail closed).
func limitData(int64) error { return errors.New("RLIMIT_DATA needs Linux") }

func cpuTime() time.Duration { return 0 }

func dataInUse() int64 { return 0 }
