//go:build linux

package jail

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/netproxy"
	"github.com/sandrun/sandrun/netpolicy"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// A run with a network allowlist keeps its own empty network namespace
// (every jail has one). Before the config goes to the init, the
// supervisor opens the proxy's listening socket inside that namespace
// (internal/netproxy: setns on a locked thread, loopback up, bind
// 127.0.0.1:3128, back) and serves it from outside: the program's only
// way out is that loopback port. The program's layers then allow exactly
// that: seccomp lets IPv4 TCP sockets through (no UDP, so no DNS; no raw,
// packet or IPv6 sockets) and Landlock (ABI 4+) allows TCP connect to the
// proxy's port only and bind to none.

// EnforcesNetwork implements sandrun.NetworkEnforcer.
func (b *Backend) EnforcesNetwork() error {
	switch {
	case !b.opts.Network.Enabled():
		return errors.New("the operator permits no network (--network-allow)")
	case os.Geteuid() != 0:
		return errors.New("the supervisor must run as root to open the proxy inside the run's network namespace")
	case b.host != nil:
		return b.host
	}
	return nil
}

// jailNet is the network side of one jailed run.
type jailNet struct {
	eff     *netpolicy.Effective
	onLimit func(what string)

	mu    sync.Mutex
	proxy *netproxy.Running
}

// networkFor narrows the request's policy under the operator's; nil for
// a run without network. env gets the proxy variables.
func (b *Backend) networkFor(req *sandrun.Request, env map[string]string) (*jailNet, error) {
	if req.Network.IsNone() {
		return nil, nil
	}
	if err := b.EnforcesNetwork(); err != nil {
		return nil, &sandrun.RequestError{Field: "network", Msg: "the jail tier cannot enforce a network allowlist here: " + err.Error()}
	}
	eff, err := b.opts.Network.Narrow(req.Network)
	if err != nil {
		return nil, err
	}
	for k, v := range netproxy.Env() {
		if _, set := env[k]; !set {
			env[k] = v
		}
	}
	return &jailNet{eff: eff}, nil
}

// open starts the proxy in the namespace of the init pid.
func (n *jailNet) open(b *Backend, pid int) error {
	r, err := netproxy.Start(fmt.Sprintf("/proc/%d/ns/net", pid), netproxy.Config{
		Policy: n.eff, Resolver: b.opts.Network.Resolver, OnLimit: n.onLimit, Logger: b.opts.Logger,
	})
	if err != nil {
		return &SetupError{Layer: LayerNamespaces, Errno: errnoOf(err), Detail: "network proxy", Err: err}
	}
	n.mu.Lock()
	n.proxy = r
	n.mu.Unlock()
	return nil
}

// reset stops a proxy opened for an init that will not run (the start
// is retried with a fresh one).
func (n *jailNet) reset() {
	if n == nil {
		return
	}
	n.stop()
	n.mu.Lock()
	n.proxy = nil
	n.mu.Unlock()
}

// stop ends the proxy and returns its record (nil when it never opened).
func (n *jailNet) stop() *sandrun.NetworkUsage {
	if n == nil {
		return nil
	}
	n.mu.Lock()
	r := n.proxy
	n.mu.Unlock()
	if r == nil {
		return nil
	}
	return r.Stop()
}

// inetSocketBody is the socket rule of a run with network: AF_UNIX, or
// AF_INET with type SOCK_STREAM (flags aside) and protocol 0 or TCP;
// anything else gets act.
func inetSocketBody(act uint32) []bpf.Instruction {
	arg := func(i int) bpf.Instruction { return bpf.LoadAbsolute{Off: uint32(16 + 8*i), Size: 4} }
	return []bpf.Instruction{
		arg(0),
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.AF_UNIX, SkipTrue: 8},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.AF_INET, SkipFalse: 6},
		arg(1),
		bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SOCK_STREAM, SkipFalse: 3},
		arg(2),
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipTrue: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.IPPROTO_TCP, SkipTrue: 1},
		bpf.RetConstant{Val: act},
		bpf.RetConstant{Val: retAllow},
	}
}
