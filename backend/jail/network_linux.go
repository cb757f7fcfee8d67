//go:build linux

package jail

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/netproxy"
	"github.com/sandrun/sandrun/internal/verdict"
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

// networkFor narrows a run's (or a launched process's) policy under the
// operator's; nil for one without network. env gets the proxy variables.
func (b *Backend) networkFor(pol sandrun.NetworkPolicy, env map[string]string) (*jailNet, error) {
	if pol.IsNone() {
		return nil, nil
	}
	if err := b.EnforcesNetwork(); err != nil {
		return nil, &sandrun.RequestError{Field: "network", Msg: "the jail tier cannot enforce a network allowlist here: " + err.Error()}
	}
	eff, err := b.opts.Network.Narrow(pol)
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

// latch makes a cap kill the jail (status network_limit), also a cap hit
// before the jail's proc exists (the program runs once the config is
// sent, before start returns); attach hands it the proc. hit says which
// cap, "" when none.
func (n *jailNet) latch() (attach func(*proc), hit func() string) {
	var (
		mu  sync.Mutex
		cur *proc
		why string
	)
	n.onLimit = func(what string) {
		mu.Lock()
		defer mu.Unlock()
		why = what
		if cur != nil {
			cur.kill(verdict.KillNetwork, "")
		}
	}
	attach = func(p *proc) {
		mu.Lock()
		defer mu.Unlock()
		cur = p
		if why != "" {
			p.kill(verdict.KillNetwork, "")
		}
	}
	hit = func() string {
		mu.Lock()
		defer mu.Unlock()
		return why
	}
	return attach, hit
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

// running is the proxy once it is open (nil before, or without one).
func (n *jailNet) running() *netproxy.Running {
	if n == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proxy
}

// usage is the proxy's record so far (nil without one).
func (n *jailNet) usage() *sandrun.NetworkUsage {
	if r := n.running(); r != nil {
		return r.Usage()
	}
	return nil
}

// stop ends the proxy and returns its record (nil when it never opened).
func (n *jailNet) stop() *sandrun.NetworkUsage {
	if r := n.running(); r != nil {
		return r.Stop()
	}
	return nil
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
