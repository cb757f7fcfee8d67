package netpolicy

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
)

// Hosts is a static resolver: names to addresses, as in a hosts file.
// Names it does not know go to Fallback, or fail when Fallback is nil.
// The operator uses it to name hosts the system's resolver does not know
// (sandrun serve --network-hosts FILE); tests use it for their test hosts
// instead of touching the machine's /etc/hosts.
type Hosts struct {
	Names    map[string][]netip.Addr
	Fallback Resolver
}

// LookupNetIP implements Resolver.
func (h *Hosts) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if as, ok := h.Names[normalizeName(host)]; ok {
		var out []netip.Addr
		for _, a := range as {
			if network == "ip" || (network == "ip4") == a.Unmap().Is4() {
				out = append(out, a)
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	if h.Fallback != nil {
		return h.Fallback.LookupNetIP(ctx, network, host)
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// Add maps name to addrs (appending).
func (h *Hosts) Add(name string, addrs ...netip.Addr) {
	if h.Names == nil {
		h.Names = map[string][]netip.Addr{}
	}
	n := normalizeName(name)
	h.Names[n] = append(h.Names[n], addrs...)
}

// ReadHostsFile reads a hosts(5) file: "ADDRESS NAME [NAME...]" per line,
// "#" comments.
func ReadHostsFile(path string) (*Hosts, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := &Hosts{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fs := strings.Fields(line)
		if len(fs) == 0 {
			continue
		}
		a, err := netip.ParseAddr(fs[0])
		if err != nil || len(fs) < 2 {
			return nil, fmt.Errorf("%s:%d: want ADDRESS NAME [NAME...]", path, n)
		}
		for _, name := range fs[1:] {
			h.Add(name, a)
		}
	}
	return h, sc.Err()
}
