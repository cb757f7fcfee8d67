package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/netproxy"
	"github.com/sandrun/sandrun/netpolicy"
)

// A run with a network allowlist keeps NetworkMode none: its container
// has a network namespace of its own with only a loopback device. The
// supervisor opens the proxy's listening socket inside that namespace
// (setns on a locked thread, through /proc/<container pid>/ns/net) after
// the start and before the boot payload goes down stdin; the boot script
// blocks reading that payload, so the program never runs before the proxy
// listens. The proxy itself runs in the supervisor, outside the
// container, and is the only thing the program can reach. The seccomp
// profile of such a run also allows IPv4 TCP sockets (nothing else: no
// UDP, so no DNS; no raw sockets, no IPv6).
//
// A netns-holder container (--network container:holder) was the other
// way; it costs a second container per run and a shared namespace's
// lifetime to manage, for nothing this one lacks.

// EnforcesNetwork implements sandrun.NetworkEnforcer: the supervisor must
// be able to enter the container's namespace, which needs root and an
// engine on this machine (its pids are ours).
func (b *Backend) EnforcesNetwork() error {
	if !b.opts.Network.Enabled() {
		return errors.New("the operator permits no network (--network-allow)")
	}
	if os.Geteuid() != 0 {
		return errors.New("the supervisor must run as root to open the proxy inside the container's network namespace")
	}
	host := b.opts.Host
	if host == "" {
		host = os.Getenv("DOCKER_HOST")
	}
	if host != "" && !strings.HasPrefix(host, "unix://") {
		return fmt.Errorf("the engine at %s is not local: its containers' namespaces are not reachable from here", host)
	}
	return nil
}

// netRun is the network side of one run.
type netRun struct {
	eff   *netpolicy.Effective
	proxy *netproxy.Running
}

// networkFor narrows the request's policy under the operator's and sets
// the container's environment and seccomp profile for it. It returns nil
// for a run without network.
func (b *Backend) networkFor(req *sandrun.Request, cfg *container.Config, hc *container.HostConfig) (*netRun, error) {
	if req.Network.IsNone() {
		return nil, nil
	}
	if err := b.EnforcesNetwork(); err != nil {
		return nil, &sandrun.RequestError{Field: "network", Msg: "the docker tier cannot enforce a network allowlist here: " + err.Error()}
	}
	eff, err := b.opts.Network.Narrow(req.Network)
	if err != nil {
		return nil, err
	}
	for k, v := range netproxy.Env() {
		if _, set := req.Env[k]; !set {
			cfg.Env = append(cfg.Env, k+"="+v)
		}
	}
	for i, o := range hc.SecurityOpt {
		if strings.HasPrefix(o, "seccomp=") {
			hc.SecurityOpt[i] = "seccomp=" + b.seccompNet
		}
	}
	return &netRun{eff: eff}, nil
}

// start opens the proxy inside the started container's namespace.
func (n *netRun) start(ctx context.Context, cli *client.Client, id string, b *Backend, onLimit func(string)) error {
	info, err := cli.ContainerInspect(ctx, id)
	if err != nil {
		return fmt.Errorf("network: inspecting the container: %w", err)
	}
	if info.State == nil || info.State.Pid <= 0 {
		return errors.New("network: the container has no process to find its namespace by")
	}
	n.proxy, err = netproxy.Start(fmt.Sprintf("/proc/%d/ns/net", info.State.Pid), netproxy.Config{
		Policy: n.eff, Resolver: b.opts.Network.Resolver, OnLimit: onLimit, Logger: b.opts.Logger,
	})
	if err != nil {
		return fmt.Errorf("network: opening the proxy in the container: %w", err)
	}
	return nil
}

// stop ends the proxy and returns its record.
func (n *netRun) stop() *sandrun.NetworkUsage {
	if n == nil || n.proxy == nil {
		return nil
	}
	return n.proxy.Stop()
}
