// Package guest is the contract between a tier that runs code under a
// language policy of its own (backend/restricted's restricted python) and
// the OS sandbox that hosts that policy (the jail's warm path). Neither
// imports the other: cmd/sandrun wires a Runner (the jail) into the tier.
//
// A guest is a program written in the sandbox's language (python) that is
// imported, once, into a zygote of its own before the zygote serves; each
// run then forks a child that calls the guest's entry function with the
// run's config and a channel to the supervisor (fd 3). The code the caller
// asked to run is data inside that config: the guest decides how it runs.
package guest

import (
	"context"
	"io"

	"github.com/sandrun/sandrun"
)

// Module is source to import into the guest's zygote, under Name.
type Module struct {
	Name   string `json:"name"`
	Source string `json:"source"`
}

// Spec declares a guest.
type Spec struct {
	// Name identifies the guest in Run.Guest.
	Name string
	// Language is the language whose interpreter runs the guest (one the
	// language registry marks as able to fork after its start).
	Language string
	// Modules are imported, in order, into the guest's zygote before it
	// forks its first child (so a child starts with them loaded).
	Modules []Module
	// Entry is "module.function": called in each child as
	// function(config, channel_fd), and never returns (it ends the
	// process with the program's exit status).
	Entry string
	// Prepare, when set, is "module.function": called with no arguments
	// in each child forked ahead of its run, once the child is fully
	// confined and before it waits for its config. A fork shares the
	// zygote's pages until it writes them, and the first run of the
	// guest's code writes hundreds (reference counts, allocator arenas):
	// a warm-up of that code here takes those copies off the run's path.
	// It runs none of a caller's code and must keep nothing a run could
	// see; an exception fails the child.
	Prepare string
}

// Run is one run of a guest.
type Run struct {
	// Guest names the Spec.
	Guest string
	// Config is handed to the entry function (JSON).
	Config []byte
	// Serve, when not nil, is the supervisor's side of the channel (fd 3
	// in the child) while the program runs. It must return once conn
	// ends; the runner closes conn when the run is over. Everything that
	// arrives on conn is untrusted: the program shares its process with
	// the guest's code. (An io.ReadWriter, not a net.Conn: the
	// restricted tier's worker is its own binary, kept free of the net
	// package and the cgo runtime it brings.)
	Serve func(conn io.ReadWriter)
	// Over, when not nil, says whether the guest reported on the channel
	// that its run is over (called once Serve returned). A guest that has,
	// and has closed its stdout, stderr and channel (fds 1 to 3), has
	// ended its run: the runner then ends the process without waiting for
	// its teardown (about a millisecond for a fork of a large zygote), and
	// takes that end as a plain exit: the report says how the program
	// ended. Without the report, the process's own end and exit status
	// stand (the streams also close when a process dies).
	Over func() bool
}

// Runner runs guests in an OS sandbox.
type Runner interface {
	// RunGuest runs req (its limits, its code as Run.Config carries it)
	// as one run of the guest. The Result is the sandbox's account of the
	// process (status, output, usage); what the guest reports on the
	// channel is the caller's to add.
	RunGuest(ctx context.Context, req *sandrun.Request, run *Run) (*sandrun.Result, error)
	// LaunchGuest starts a long-lived run of the guest whose standard
	// streams the caller drives (a session); spec's limits hold for its
	// whole life, and spec's Args, Files and Env are not used (the guest
	// decides how it runs; callers refuse what it cannot honour).
	LaunchGuest(ctx context.Context, spec *sandrun.LaunchSpec, run *Run) (sandrun.Launched, error)
	// CheckGuest says whether the guest can run here; the error names
	// what is missing.
	CheckGuest(ctx context.Context, name string) error
}
