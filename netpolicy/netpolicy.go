// Package netpolicy decides what a run may reach on the network: the
// operator's ceiling (Operator), a request's allowlist narrowed under it
// (Effective), host and port matching, and which resolved addresses may
// be dialled at all (public addresses, plus the non-public ranges the
// operator names). The proxy that enforces it is internal/netproxy; the
// request's syntax (sandrun.NetworkPolicy) is in the root package.
package netpolicy

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/sandrun/sandrun"
)

// Resolver turns a host name into addresses. *net.Resolver implements it;
// Hosts is a static one (a hosts file, tests).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Operator is what the operator permits on this host. A request's
// allowlist must fit under Allow; the proxy dials only public addresses
// and those in Private.
type Operator struct {
	// Allow is the ceiling: every rule of a request must be covered by
	// one rule here (host pattern and ports, or CIDR and ports). Empty:
	// no request may have network.
	Allow []sandrun.NetworkRule
	// Private are non-public ranges (private, loopback, link-local,
	// shared, documentation...) that destinations may resolve to. By
	// default none: a name resolving to such an address is refused, so a
	// run cannot reach the host's or the LAN's services through the
	// proxy (nor by DNS rebinding: the address dialled is the one checked).
	Private []netip.Prefix
	// Defaults fill a request's zero limits; Max bounds them. Zero fields
	// take DefaultLimits and MaxLimits.
	Defaults, Max sandrun.NetworkLimits
	// Resolver resolves names for the proxy; nil is the system's.
	Resolver Resolver
}

// DefaultLimits are the traffic caps a request gets when neither it nor
// the operator says otherwise.
var defaultLimits = sandrun.NetworkLimits{BytesUp: 16 << 20, BytesDown: 256 << 20, Connections: 256}

// maxLimits bound what a request may ask for when the operator sets no
// maximum.
var maxLimits = sandrun.NetworkLimits{BytesUp: 1 << 30, BytesDown: 4 << 30, Connections: 4096}

// DefaultLimits returns the built-in default caps.
func DefaultLimits() sandrun.NetworkLimits { return defaultLimits }

// MaxLimits returns the built-in maximum caps.
func MaxLimits() sandrun.NetworkLimits { return maxLimits }

// Effective is a request's allowlist narrowed under the operator's
// ceiling, with its limits resolved: what the proxy enforces.
type Effective struct {
	hosts   []hostRule
	cidrs   []cidrRule
	private []netip.Prefix
	Limits  sandrun.NetworkLimits
	// Source is the request's policy, for records.
	Source sandrun.NetworkPolicy
}

type hostRule struct {
	pattern string // lower case: "*", "*.example.org" or a name
	ports   []sandrun.PortRange
}

type cidrRule struct {
	prefix netip.Prefix
	ports  []sandrun.PortRange
}

// Enabled reports whether the operator permits any network at all.
func (o *Operator) Enabled() bool { return o != nil && len(o.Allow) > 0 }

// Validate checks the operator's own configuration.
func (o *Operator) Validate() error {
	if o == nil {
		return nil
	}
	if err := (sandrun.NetworkPolicy{Allow: o.Allow}).Validate(); err != nil {
		return fmt.Errorf("operator network allowlist: %w", err)
	}
	for _, p := range o.Private {
		if !p.IsValid() {
			return fmt.Errorf("operator private range %v is not valid", p)
		}
	}
	return nil
}

// Narrow checks a request's policy against the ceiling and returns what
// the proxy enforces, or nil for "none". A request that asks for more
// than the operator permits gets a *sandrun.RequestError naming the rule
// and what is permitted.
func (o *Operator) Narrow(p sandrun.NetworkPolicy) (*Effective, error) {
	if p.IsNone() {
		return nil, nil
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if !o.Enabled() {
		return nil, &sandrun.RequestError{Field: "network", Msg: "the operator permits no network on this host " +
			"(sandrun serve --network-allow, or SANDRUN_NETWORK_ALLOW for the CLI; docs/guide/network.md)"}
	}
	e := &Effective{private: normalizePrefixes(o.Private), Source: p}
	for i, r := range p.Allow {
		for j, pr := range r.Ports {
			if !o.covers(r, pr) {
				one := sandrun.NetworkPolicy{Allow: []sandrun.NetworkRule{{Host: r.Host, CIDR: r.CIDR, Ports: []sandrun.PortRange{pr}}}}
				field := fmt.Sprintf("network.allow[%d]", i)
				if len(r.Ports) > 1 {
					field = fmt.Sprintf("network.allow[%d].ports[%d]", i, j)
				}
				return nil, &sandrun.RequestError{Field: field, Msg: fmt.Sprintf("%s is not permitted by the operator (permitted: %s)",
					strings.TrimPrefix(one.String(), "allow:"), strings.TrimPrefix(sandrun.NetworkPolicy{Allow: o.Allow}.String(), "allow:"))}
			}
		}
		if r.Host != "" {
			e.hosts = append(e.hosts, hostRule{pattern: normalizeName(r.Host), ports: r.Ports})
		} else {
			pfx, _ := sandrun.ParseNetworkCIDR(r.CIDR)
			e.cidrs = append(e.cidrs, cidrRule{prefix: pfx, ports: r.Ports})
		}
	}
	lim, err := o.limits(p.Limits)
	if err != nil {
		return nil, err
	}
	e.Limits = lim
	return e, nil
}

// covers reports whether one operator rule covers rule r on ports pr.
func (o *Operator) covers(r sandrun.NetworkRule, pr sandrun.PortRange) bool {
	for _, c := range o.Allow {
		if !portsCover(c.Ports, pr) {
			continue
		}
		switch {
		case r.Host != "" && c.Host != "":
			if patternCovers(normalizeName(c.Host), normalizeName(r.Host)) {
				return true
			}
		case r.CIDR != "" && c.CIDR != "":
			cp, err1 := sandrun.ParseNetworkCIDR(c.CIDR)
			rp, err2 := sandrun.ParseNetworkCIDR(r.CIDR)
			if err1 == nil && err2 == nil && cp.Bits() <= rp.Bits() && cp.Contains(rp.Addr()) {
				return true
			}
		}
	}
	return false
}

func portsCover(ps []sandrun.PortRange, pr sandrun.PortRange) bool {
	for _, p := range ps {
		if p.Covers(pr) {
			return true
		}
	}
	return false
}

// patternCovers reports whether every name pattern r matches is matched
// by pattern c.
func patternCovers(c, r string) bool {
	switch {
	case c == "*":
		return true
	case r == "*":
		return false
	case strings.HasPrefix(c, "*."):
		// *.d covers *.d, x.d, *.x.d: anything ending in ".d".
		return r == c || strings.HasSuffix(strings.TrimPrefix(r, "*"), c[1:])
	}
	return r == c
}

func (o *Operator) limits(req sandrun.NetworkLimits) (sandrun.NetworkLimits, error) {
	def, max := o.Defaults, o.Max
	pick := func(a, b int64) int64 {
		if a != 0 {
			return a
		}
		return b
	}
	max = sandrun.NetworkLimits{
		BytesUp:     sandrun.Bytes(pick(int64(max.BytesUp), int64(maxLimits.BytesUp))),
		BytesDown:   sandrun.Bytes(pick(int64(max.BytesDown), int64(maxLimits.BytesDown))),
		Connections: int(pick(int64(max.Connections), int64(maxLimits.Connections))),
	}
	def = sandrun.NetworkLimits{
		BytesUp:     sandrun.Bytes(min(pick(int64(def.BytesUp), int64(defaultLimits.BytesUp)), int64(max.BytesUp))),
		BytesDown:   sandrun.Bytes(min(pick(int64(def.BytesDown), int64(defaultLimits.BytesDown)), int64(max.BytesDown))),
		Connections: int(min(pick(int64(def.Connections), int64(defaultLimits.Connections)), int64(max.Connections))),
	}
	out := sandrun.NetworkLimits{
		BytesUp:     sandrun.Bytes(pick(int64(req.BytesUp), int64(def.BytesUp))),
		BytesDown:   sandrun.Bytes(pick(int64(req.BytesDown), int64(def.BytesDown))),
		Connections: int(pick(int64(req.Connections), int64(def.Connections))),
	}
	switch {
	case out.BytesUp > max.BytesUp:
		return out, &sandrun.RequestError{Field: "network.limits.bytes_up", Msg: fmt.Sprintf("%s is above the operator's maximum %s", out.BytesUp, max.BytesUp)}
	case out.BytesDown > max.BytesDown:
		return out, &sandrun.RequestError{Field: "network.limits.bytes_down", Msg: fmt.Sprintf("%s is above the operator's maximum %s", out.BytesDown, max.BytesDown)}
	case out.Connections > max.Connections:
		return out, &sandrun.RequestError{Field: "network.limits.connections", Msg: fmt.Sprintf("%d is above the operator's maximum %d", out.Connections, max.Connections)}
	}
	return out, nil
}

// AllowsName reports whether the allowlist lets the program reach host
// (a name, not an address) on port.
func (e *Effective) AllowsName(host string, port uint16) bool {
	name := normalizeName(host)
	if name == "" {
		return false
	}
	for _, r := range e.hosts {
		if matchName(r.pattern, name) && portsContain(r.ports, port) {
			return true
		}
	}
	return false
}

// AllowsAddr reports whether an IP-literal destination is allowed.
func (e *Effective) AllowsAddr(a netip.Addr, port uint16) bool {
	a = a.Unmap()
	for _, r := range e.cidrs {
		if r.prefix.Contains(a) && portsContain(r.ports, port) {
			return true
		}
	}
	return false
}

// Dialable returns nil when the proxy may open a connection to a: a
// public address, or one inside a range the operator permits. It is
// checked on the address actually dialled, after resolution.
func (e *Effective) Dialable(a netip.Addr) error {
	if a.Zone() != "" {
		return fmt.Errorf("%s is a scoped (link-local) address", a)
	}
	a = a.Unmap()
	kind := Special(a)
	if kind == "" {
		return nil
	}
	for _, p := range e.private {
		if p.Contains(a) {
			return nil
		}
	}
	return fmt.Errorf("%s is a %s address the operator does not permit", a, kind)
}

func portsContain(ps []sandrun.PortRange, port uint16) bool {
	for _, p := range ps {
		if p.Contains(port) {
			return true
		}
	}
	return false
}

// matchName matches a normalized name against a normalized pattern.
func matchName(pattern, name string) bool {
	switch {
	case pattern == "*":
		return true
	case strings.HasPrefix(pattern, "*."):
		return strings.HasSuffix(name, pattern[1:]) && len(name) > len(pattern)-1
	}
	return pattern == name
}

// normalizeName lower-cases a name and drops one trailing dot.
func normalizeName(h string) string {
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

func normalizePrefixes(ps []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out
}
