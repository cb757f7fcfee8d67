//go:build !linux

package gvisor

import (
	"context"
	"errors"

	"github.com/sandrun/sandrun"
)

var errUnsupported = errors.New("the gvisor tier needs Linux")

func platformCheck() error { return errUnsupported }

// Run fails closed off Linux.
func (b *Backend) Run(context.Context, *sandrun.Request) (*sandrun.Result, error) {
	return nil, errUnsupported
}

func (b *Backend) sweep(context.Context) int { return 0 }
