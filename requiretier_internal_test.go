package sandrun

import (
	"context"
	"errors"
	"testing"
)

type plainTier struct{ name string }

func (b plainTier) Name() string                                 { return b.name }
func (plainTier) Check(context.Context, string) error            { return nil }
func (plainTier) Run(context.Context, *Request) (*Result, error) { return &Result{}, nil }

type enforcingTier struct {
	plainTier
	why error
}

func (b enforcingTier) EnforcesNetwork() error { return b.why }

// The refusals of a run a tier cannot take name the field, the tier, what
// it cannot do and why, word for word.
func TestRequireTierMessages(t *testing.T) {
	allow := &Request{Network: NetworkPolicy{Allow: []NetworkRule{{Host: "example.com"}}}}
	for _, c := range []struct {
		b    Backend
		want string
	}{
		{plainTier{"gvisor"}, "network: the gvisor tier cannot enforce a network allowlist (it has no per-run network namespace to hold the proxy); use the jail or docker tier"},
		{enforcingTier{plainTier{"jail"}, errors.New("no netns")}, "network: the jail tier cannot enforce a network allowlist here: no netns"},
		{enforcingTier{plainTier{"jail"}, nil}, ""},
	} {
		err := checkNetwork(c.b, allow)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.b.Name(), got, c.want)
		}
	}
	if err := checkNetwork(plainTier{"process"}, &Request{}); err != nil {
		t.Errorf("no allowlist refused: %v", err)
	}
}
