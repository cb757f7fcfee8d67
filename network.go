package sandrun

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// NetworkPolicy is what a run may reach on the network. The zero value is
// "none": the run has no network at all (the default). An allowlist routes
// the program's traffic through a proxy run by the supervisor, outside the
// sandbox, which lets through only the destinations listed here, and only
// within what the operator permits (netpolicy.Operator).
//
// In JSON it is either a string in the command-line syntax (ParseNetwork:
// "none", "allow:pypi.org:443,*.example.org:443") or an object:
//
//	{"allow": [{"host": "pypi.org", "ports": [443]},
//	           {"cidr": "10.1.0.0/16", "ports": ["8000-8100"]}],
//	 "limits": {"bytes_down": "64MiB", "bytes_up": "1MiB", "connections": 32}}
type NetworkPolicy struct {
	// Allow lists the destinations; empty means no network.
	Allow []NetworkRule `json:"allow,omitempty"`
	// Limits cap the run's traffic; zero fields take the operator's
	// defaults.
	Limits NetworkLimits `json:"limits,omitzero"`
}

// NetworkRule is one allowed destination: a host name pattern or a CIDR,
// and the ports.
type NetworkRule struct {
	// Host is a name ("pypi.org"), a wildcard over its subdomains
	// ("*.example.org": a.example.org and a.b.example.org, not
	// example.org itself), or "*" (any name). Names only: IP literals
	// need a CIDR rule.
	Host string `json:"host,omitempty"`
	// CIDR allows IP-literal destinations in a range ("10.1.0.0/16").
	CIDR string `json:"cidr,omitempty"`
	// Ports the rule allows: numbers, ranges "8000-8100", or "*".
	Ports []PortRange `json:"ports"`
}

// NetworkLimits cap a run's traffic through the proxy. Past a byte cap
// the run is killed with StatusNetworkLimit; past the connection cap
// further connections are refused (and the run too is ended).
type NetworkLimits struct {
	BytesUp     Bytes `json:"bytes_up,omitempty"`    // program -> network
	BytesDown   Bytes `json:"bytes_down,omitempty"`  // network -> program
	Connections int   `json:"connections,omitempty"` // proxy connections and requests
}

// PortRange is an inclusive range of TCP ports; one port has From == To.
// In JSON: 443, "443", "8000-8100" or "*" (1-65535).
type PortRange struct{ From, To uint16 }

// AnyPort is every port.
var AnyPort = PortRange{1, 65535}

// Contains reports whether port is in the range.
func (r PortRange) Contains(port uint16) bool { return port >= r.From && port <= r.To }

// Covers reports whether o lies inside r.
func (r PortRange) Covers(o PortRange) bool { return o.From >= r.From && o.To <= r.To }

func (r PortRange) String() string {
	switch {
	case r == AnyPort:
		return "*"
	case r.From == r.To:
		return strconv.Itoa(int(r.From))
	}
	return fmt.Sprintf("%d-%d", r.From, r.To)
}

// ParsePortRange parses "443", "8000-8100" or "*".
func ParsePortRange(s string) (PortRange, error) {
	s = strings.TrimSpace(s)
	if s == "*" {
		return AnyPort, nil
	}
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := parsePort(lo)
	if err != nil {
		return PortRange{}, err
	}
	if !isRange {
		return PortRange{a, a}, nil
	}
	b, err := parsePort(hi)
	if err != nil {
		return PortRange{}, err
	}
	if b < a {
		return PortRange{}, fmt.Errorf("port range %q runs backwards", s)
	}
	return PortRange{a, b}, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port (1-65535, a range 8000-8100, or *)", s)
	}
	return uint16(n), nil
}

// MarshalJSON writes a single port as a number, a range as a string.
func (r PortRange) MarshalJSON() ([]byte, error) {
	if r.From == r.To {
		return []byte(strconv.Itoa(int(r.From))), nil
	}
	return json.Marshal(r.String())
}

// UnmarshalJSON accepts a number or a string.
func (r *PortRange) UnmarshalJSON(data []byte) error {
	s := string(data)
	if len(data) > 0 && data[0] == '"' {
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
	}
	v, err := ParsePortRange(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// IsNone reports whether the policy allows no network at all.
func (p NetworkPolicy) IsNone() bool { return len(p.Allow) == 0 }

// ParseNetwork parses the command-line form of a policy:
//
//	none
//	allow:ENTRY[,ENTRY...]
//
// where ENTRY is HOST:PORTS, HOST a name, "*.domain" or "*", or a CIDR
// (an IPv6 CIDR in brackets: [2001:db8::/32]:443), and PORTS one port, a
// range 8000-8100, or *. A host with several ports is repeated
// (pypi.org:443,pypi.org:80). The empty string is "none".
func ParseNetwork(s string) (NetworkPolicy, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return NetworkPolicy{}, nil
	}
	body, ok := strings.CutPrefix(s, "allow:")
	if !ok {
		return NetworkPolicy{}, fmt.Errorf("%q: want \"none\" or \"allow:HOST:PORT[,HOST:PORT...]\"", s)
	}
	var p NetworkPolicy
	for _, e := range strings.Split(body, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		r, err := parseEntry(e)
		if err != nil {
			return NetworkPolicy{}, err
		}
		p.Allow = append(p.Allow, r)
	}
	if len(p.Allow) == 0 {
		return NetworkPolicy{}, fmt.Errorf("%q allows nothing: name at least one HOST:PORT", s)
	}
	return p, nil
}

// parseEntry parses one HOST:PORTS or CIDR:PORTS.
func parseEntry(e string) (NetworkRule, error) {
	var host, ports string
	if strings.HasPrefix(e, "[") {
		end := strings.Index(e, "]")
		if end < 0 || !strings.HasPrefix(e[end+1:], ":") {
			return NetworkRule{}, fmt.Errorf("entry %q: want [IPv6/CIDR]:PORT", e)
		}
		host, ports = e[1:end], e[end+2:]
	} else {
		i := strings.LastIndexByte(e, ':')
		if i < 0 {
			return NetworkRule{}, fmt.Errorf("entry %q has no port: write %s:443 (or %s:* for any port)", e, e, e)
		}
		host, ports = e[:i], e[i+1:]
	}
	pr, err := ParsePortRange(ports)
	if err != nil {
		return NetworkRule{}, fmt.Errorf("entry %q: %w", e, err)
	}
	r := NetworkRule{Ports: []PortRange{pr}}
	if looksLikeAddress(host) {
		r.CIDR = host
	} else {
		r.Host = host
	}
	return r, nil
}

// looksLikeAddress tells an IP or CIDR from a host name.
func looksLikeAddress(s string) bool {
	if strings.Contains(s, "/") || strings.Contains(s, ":") {
		return true
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

// String is the command-line form (limits are not part of it).
func (p NetworkPolicy) String() string {
	if p.IsNone() {
		return "none"
	}
	var parts []string
	for _, r := range p.Allow {
		for _, pr := range r.Ports {
			h := r.Host
			if r.CIDR != "" {
				h = r.CIDR
				if strings.Contains(h, ":") {
					h = "[" + h + "]"
				}
			}
			parts = append(parts, h+":"+pr.String())
		}
	}
	return "allow:" + strings.Join(parts, ",")
}

// MarshalJSON writes "none" for no network and the object otherwise.
func (p NetworkPolicy) MarshalJSON() ([]byte, error) {
	if p.IsNone() && p.Limits == (NetworkLimits{}) {
		return []byte(`"none"`), nil
	}
	type plain NetworkPolicy
	return json.Marshal(plain(p))
}

// UnmarshalJSON accepts the string form or the object.
func (p *NetworkPolicy) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, []byte("null")) {
		*p = NetworkPolicy{}
		return nil
	}
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		v, err := ParseNetwork(s)
		if err != nil {
			return fmt.Errorf("network: %w", err) // as the object form: decoders that do not name the field (MCP's) still do
		}
		*p = v
		return nil
	}
	type plain NetworkPolicy
	var v plain
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("network: %w", err)
	}
	*p = NetworkPolicy(v)
	return nil
}

// maxNetworkRules caps the allowlist of one request.
const maxNetworkRules = 64

// Validate checks the policy's syntax: every rule names a well-formed
// host pattern or CIDR and at least one port. Whether the operator allows
// it is decided by netpolicy.Operator.Narrow. Errors name the field.
func (p NetworkPolicy) Validate() error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, &RequestError{Field: field, Msg: fmt.Sprintf(format, a...)})
	}
	if len(p.Allow) > maxNetworkRules {
		bad("network.allow", "has %d rules, over the limit of %d", len(p.Allow), maxNetworkRules)
	}
	for i, r := range p.Allow {
		f := fmt.Sprintf("network.allow[%d]", i)
		switch {
		case r.Host != "" && r.CIDR != "":
			bad(f, "names both a host and a cidr; one rule is one or the other")
		case r.Host == "" && r.CIDR == "":
			bad(f, "names neither a host nor a cidr")
		case r.Host != "":
			if err := ValidateHostPattern(r.Host); err != nil {
				bad(f+".host", "%v", err)
			}
		default:
			if _, err := ParseNetworkCIDR(r.CIDR); err != nil {
				bad(f+".cidr", "%v", err)
			}
		}
		if len(r.Ports) == 0 {
			bad(f+".ports", "is empty: name the ports (443, \"8000-8100\" or \"*\")")
		}
		for j, pr := range r.Ports {
			if pr.From == 0 || pr.To < pr.From {
				bad(fmt.Sprintf("%s.ports[%d]", f, j), "%d-%d is not a port range", pr.From, pr.To)
			}
		}
	}
	l := p.Limits
	if l.BytesUp < 0 {
		bad("network.limits.bytes_up", "must not be negative")
	}
	if l.BytesDown < 0 {
		bad("network.limits.bytes_down", "must not be negative")
	}
	if l.Connections < 0 {
		bad("network.limits.connections", "must not be negative")
	}
	if p.IsNone() && l != (NetworkLimits{}) {
		bad("network.limits", "are set but the policy allows no destination")
	}
	return errors.Join(errs...)
}

// ParseNetworkCIDR parses a CIDR or a single address (a /32 or /128).
func ParseNetworkCIDR(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR (10.0.0.0/8, 2001:db8::/32)", s)
		}
		if p.Masked() != p {
			return netip.Prefix{}, fmt.Errorf("%q has host bits set; write %s", s, p.Masked())
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ValidateHostPattern checks a host name pattern: "*", "*.domain" or a
// name of letters, digits and hyphens in dot-separated labels (ASCII:
// internationalised names are written in their xn-- form).
func ValidateHostPattern(h string) error {
	if h == "*" {
		return nil
	}
	name := strings.TrimPrefix(h, "*.")
	if err := validateHostName(name); err != nil {
		return fmt.Errorf("%q: %w", h, err)
	}
	if looksLikeAddress(name) || isAllDigitsAndDots(name) {
		return fmt.Errorf("%q is an IP address: use a cidr rule", h)
	}
	return nil
}

func validateHostName(name string) error {
	if name == "" {
		return errors.New("empty host name")
	}
	if len(name) > 253 {
		return errors.New("host name longer than 253 characters")
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return errors.New("each dot-separated label must be 1-63 characters")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("a label must not start or end with a hyphen")
		}
		for _, c := range []byte(label) {
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
			if !ok {
				return fmt.Errorf("character %q is not allowed in a host name (letters, digits, '-'; xn-- form for other scripts)", c)
			}
		}
	}
	return nil
}

func isAllDigitsAndDots(s string) bool {
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	return true
}

// NetworkUsage is what a run did on the network through its proxy: the
// totals and every destination it tried, allowed or refused.
type NetworkUsage struct {
	BytesUp     int64 `json:"bytes_up"`
	BytesDown   int64 `json:"bytes_down"`
	Connections int   `json:"connections"` // connections and requests the proxy allowed
	Refused     int   `json:"refused"`     // attempts the proxy refused
	// LimitHit names the cap that ended the run ("bytes_down",
	// "bytes_up", "connections"), if one did.
	LimitHit string `json:"limit_hit,omitempty"`
	// Destinations are the distinct destinations tried, in first-seen
	// order (at most 256; DestinationsTruncated says when more were).
	Destinations          []NetworkDestination `json:"destinations"`
	DestinationsTruncated bool                 `json:"destinations_truncated,omitempty"`
}

// NetworkDestination is one destination the program tried.
type NetworkDestination struct {
	Host    string `json:"host"` // as the program named it
	Port    int    `json:"port"`
	Allowed bool   `json:"allowed"`
	// Reason says why it was refused, or why a connection ended early.
	Reason string `json:"reason,omitempty"`
	// Address is the IP the proxy dialled (after its own resolution).
	Address   string `json:"address,omitempty"`
	Attempts  int    `json:"attempts"`
	BytesUp   int64  `json:"bytes_up"`
	BytesDown int64  `json:"bytes_down"`
}

// NetworkEnforcer is implemented by backends that can run a request with
// a network allowlist (a proxy outside the sandbox, reachable only from
// the run's own network namespace). A request with an allowlist sent to
// any other backend is rejected naming the tier: its network cannot be
// enforced there, so it does not run.
type NetworkEnforcer interface {
	// EnforcesNetwork returns nil when the backend can enforce an
	// allowlist on this host, else why not.
	EnforcesNetwork() error
}

// checkNetwork refuses an allowlist on a backend that cannot enforce it.
func checkNetwork(b Backend, req *Request) error {
	if req.Network.IsNone() {
		return nil
	}
	return requireTier(b, "network", "enforce a network allowlist", "it has no per-run network namespace to hold the proxy", "the jail or docker tier", NetworkEnforcer.EnforcesNetwork)
}

// RefuseNetwork is what a Launcher that cannot enforce an allowlist (the
// process tier shares the host's network; others have no namespace to
// hold the proxy) returns for a spec that sets one: nothing is started.
func RefuseNetwork(tier string, p NetworkPolicy) error {
	if p.IsNone() {
		return nil
	}
	return &RequestError{Field: "network", Msg: fmt.Sprintf("the %s tier cannot enforce a network allowlist for a long-lived process; use the jail or docker tier", tier)}
}
