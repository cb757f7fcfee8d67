//go:build !linux

package jail

import (
	"context"

	"github.com/sandrun/sandrun"
)

// WarmStats is always zero on this OS.
func (b *Backend) WarmStats() WarmStats { return WarmStats{Ready: map[string]int{}} }

// WarmReady fails: there is no jail on this OS.
func (b *Backend) WarmReady(context.Context, string) error { return errUnsupported }

// WarmStatus reports nothing: there is no warm path on this OS.
func (b *Backend) WarmStatus() map[string]sandrun.WarmStatus { return nil }
