//go:build !linux

package jail

import (
	"context"
	"errors"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/guest"
)

// errUnsupported: the jail is built from Linux namespaces, seccomp,
// Landlock and cgroups. Elsewhere it refuses every run (fail closed).
var errUnsupported = errors.New("the jail backend needs Linux (namespaces, seccomp-bpf, Landlock, cgroups)")

// Backend is the jail tier; on this OS it only reports that it cannot run.
type Backend struct{}

var _ sandrun.Backend = (*Backend)(nil)

// New fails: there is no jail on this OS.
func New(opts Options) (*Backend, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	return &Backend{}, nil
}

func (b *Backend) Name() string                        { return Name }
func (b *Backend) Check(context.Context, string) error { return errUnsupported }
func (b *Backend) Close() error                        { return nil }
func (b *Backend) Diagnose(context.Context) []sandrun.Diagnostic {
	return []sandrun.Diagnostic{{Name: "jail", OK: false, Detail: errUnsupported.Error()}}
}
func (b *Backend) Run(context.Context, *sandrun.Request) (*sandrun.Result, error) {
	return nil, errUnsupported
}
func (b *Backend) Launch(context.Context, *sandrun.LaunchSpec) (sandrun.Launched, error) {
	return nil, errUnsupported
}

// ChildMain is never reached on this OS.
func ChildMain([]string) int { return 70 }

// ChildRole is the re-exec role name (see the Linux build).
const ChildRole = "jail-init"

// RunGuest fails: there is no jail on this OS.
func (b *Backend) RunGuest(context.Context, *sandrun.Request, *guest.Run) (*sandrun.Result, error) {
	return nil, errUnsupported
}

// LaunchGuest fails: there is no jail on this OS.
func (b *Backend) LaunchGuest(context.Context, *sandrun.LaunchSpec, *guest.Run) (sandrun.Launched, error) {
	return nil, errUnsupported
}

// CheckGuest fails: there is no jail on this OS.
func (b *Backend) CheckGuest(context.Context, string) error { return errUnsupported }
