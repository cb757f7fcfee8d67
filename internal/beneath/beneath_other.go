//go:build !linux

package beneath

import (
	"errors"

	"github.com/sandrun/sandrun"
)

var errUnsupported = errors.New("writing into a running sandbox's work directory needs Linux (openat2)")

// WriteFiles fails closed off Linux.
func WriteFiles(string, []sandrun.InputFile) error { return errUnsupported }

// Collect fails closed off Linux.
func Collect(string, []string, CollectLimits) ([]sandrun.OutputFile, error) {
	return nil, errUnsupported
}
