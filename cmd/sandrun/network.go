package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/netpolicy"
)

// networkFlags are the operator's network settings (docs/guide/network.md):
// what runs may ever reach, which non-public ranges they may reach, and
// names to resolve from a hosts file. The environment gives the defaults
// (SANDRUN_NETWORK_ALLOW, SANDRUN_NETWORK_PRIVATE, SANDRUN_NETWORK_HOSTS).
type networkFlags struct {
	allow, private, hosts string
}

func (f *networkFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.allow, "network-allow", os.Getenv("SANDRUN_NETWORK_ALLOW"),
		"what requests may ever reach: HOST:PORT[,...] (*.domain, *, CIDR:PORT); requests may only narrow it (default: no network for serve; run: the request's own allowlist)")
	fs.StringVar(&f.private, "network-private", os.Getenv("SANDRUN_NETWORK_PRIVATE"),
		"non-public ranges destinations may resolve to, CIDR[,...] (default: none; loopback, private and link-local addresses are refused)")
	fs.StringVar(&f.hosts, "network-hosts", os.Getenv("SANDRUN_NETWORK_HOSTS"),
		"a hosts(5) file the proxy resolves names from before DNS")
}

// operator builds the operator's settings. request, when not nil, is the
// one-shot CLI's request: with no --network-allow its own allowlist is the
// ceiling (the person typing the command is the operator), while private
// ranges still need --network-private.
func (f *networkFlags) operator(request *sandrun.Request) (*netpolicy.Operator, error) {
	op := &netpolicy.Operator{}
	if f.allow != "" {
		p, err := sandrun.ParseNetwork("allow:" + strings.TrimPrefix(f.allow, "allow:"))
		if err != nil {
			return nil, &usageError{msg: "--network-allow: " + err.Error()}
		}
		if err := p.Validate(); err != nil {
			return nil, &usageError{msg: "--network-allow: " + err.Error()}
		}
		op.Allow = p.Allow
	} else if request != nil {
		op.Allow = request.Network.Allow
	}
	for _, c := range strings.Split(f.private, ",") {
		if c = strings.TrimSpace(c); c == "" {
			continue
		}
		pfx, err := sandrun.ParseNetworkCIDR(c)
		if err != nil {
			return nil, &usageError{msg: "--network-private: " + err.Error()}
		}
		op.Private = append(op.Private, pfx)
	}
	if f.hosts != "" {
		h, err := netpolicy.ReadHostsFile(f.hosts)
		if err != nil {
			return nil, &usageError{msg: fmt.Sprintf("--network-hosts: %v", err)}
		}
		h.Fallback = systemResolver{} // names not in the file
		op.Resolver = h
	}
	return op, nil
}

// systemResolver is the system's resolver as a netpolicy.Resolver.
type systemResolver struct{}

func (systemResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, network, host)
}
