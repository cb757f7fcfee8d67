//go:build !linux

package process

import (
	"context"

	"github.com/sandrun/sandrun"
)

var _ sandrun.Launcher = (*Backend)(nil)

// Launch fails closed off Linux, like Run.
func (b *Backend) Launch(context.Context, *sandrun.LaunchSpec) (sandrun.Launched, error) {
	return nil, errUnsupported
}
