//go:build !linux

package cgmeter

import (
	"time"

	"github.com/sandrun/sandrun"
)

// Meter measures nothing off Linux.
type Meter struct{}

// New returns nil: there are no cgroups to read.
func New(parentDir, version string) *Meter { return nil }

func (m *Meter) Parent(runID string) string               { return "" }
func (m *Meter) Read(runID string) (time.Duration, int64) { return 0, 0 }
func (m *Meter) Remove(runID string) error                { return nil }
func (m *Meter) Sweep(func(string) (int, bool)) int       { return 0 }
func (m *Meter) Kill(runID string)                        {}
func (m *Meter) LimitPids(string, int64) error            { return nil }
func (m *Meter) PidsHit(string) bool                      { return false }
func (m *Meter) Apply(runID string, u *sandrun.Usage)     {}

func (m *Meter) Watch(runID string, limit time.Duration, stop <-chan struct{}, kill func()) {}
