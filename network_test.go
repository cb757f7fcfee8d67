package sandrun_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
)

func TestParseNetwork(t *testing.T) {
	good := map[string]string{
		"":                   "none",
		"none":               "none",
		"allow:pypi.org:443": "allow:pypi.org:443",
		"allow:pypi.org:443, *.example.org:80-90": "allow:pypi.org:443,*.example.org:80-90",
		"allow:10.1.0.0/16:*":                     "allow:10.1.0.0/16:*",
		"allow:[2001:db8::/32]:443":               "allow:[2001:db8::/32]:443",
		"allow:192.0.2.7:8080":                    "allow:192.0.2.7:8080",
	}
	for in, want := range good {
		p, err := sandrun.ParseNetwork(in)
		if err != nil {
			t.Errorf("ParseNetwork(%q): %v", in, err)
			continue
		}
		if err := p.Validate(); err != nil {
			t.Errorf("ParseNetwork(%q) does not validate: %v", in, err)
		}
		if p.String() != want {
			t.Errorf("ParseNetwork(%q) = %s, want %s", in, p, want)
		}
	}
	bad := []string{"host", "allow:", "allow:pypi.org", "allow:pypi.org:0", "allow:pypi.org:70000",
		"allow:pypi.org:90-80", "allow:[::1:443", "block:x:1"}
	for _, in := range bad {
		if _, err := sandrun.ParseNetwork(in); err == nil {
			t.Errorf("ParseNetwork(%q) accepted", in)
		}
	}
}

func TestNetworkValidateNamesField(t *testing.T) {
	cases := map[string]sandrun.NetworkRule{
		"network.allow[0].host":     {Host: "a b", Ports: []sandrun.PortRange{{From: 1, To: 1}}},
		"network.allow[0].cidr":     {CIDR: "10.0.0.1/8", Ports: []sandrun.PortRange{{From: 1, To: 1}}},
		"network.allow[0].ports":    {Host: "a.org"},
		"network.allow[0]":          {Host: "a.org", CIDR: "10.0.0.0/8", Ports: []sandrun.PortRange{{From: 1, To: 1}}},
		"network.allow[0].host ip":  {Host: "10.0.0.1", Ports: []sandrun.PortRange{{From: 1, To: 1}}},
		"network.allow[0].host uni": {Host: "bücher.de", Ports: []sandrun.PortRange{{From: 1, To: 1}}},
	}
	for field, r := range cases {
		err := sandrun.NetworkPolicy{Allow: []sandrun.NetworkRule{r}}.Validate()
		want := strings.Fields(field)[0] + ":"
		if err == nil || !errors.Is(err, sandrun.ErrBadRequest) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want a request error naming %s", field, err, want)
		}
	}
}

func TestNetworkJSON(t *testing.T) {
	var r sandrun.Request
	body := `{"language":"python","code":"x","network":{"allow":[{"host":"pypi.org","ports":[443,"8000-8100"]}],"limits":{"bytes_down":"1MiB"}}}`
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if got := r.Network.String(); got != "allow:pypi.org:443,pypi.org:8000-8100" {
		t.Fatalf("object form = %s", got)
	}
	if r.Network.Limits.BytesDown != 1<<20 {
		t.Fatalf("limits = %+v", r.Network.Limits)
	}
	out, _ := json.Marshal(r.Network)
	var back sandrun.NetworkPolicy
	if err := json.Unmarshal(out, &back); err != nil || back.String() != r.Network.String() {
		t.Fatalf("round trip %s -> %s (%v)", out, back, err)
	}
	if err := json.Unmarshal([]byte(`{"network":"allow:a.org:443"}`), &r); err != nil || r.Network.String() != "allow:a.org:443" {
		t.Fatalf("string form: %v %s", err, r.Network)
	}
	if err := json.Unmarshal([]byte(`{"network":"none"}`), &r); err != nil || !r.Network.IsNone() {
		t.Fatalf("none: %v %s", err, r.Network)
	}
	if err := json.Unmarshal([]byte(`{"network":{"alow":[]}}`), &r); err == nil {
		t.Fatal("an unknown field in the network object was accepted")
	}
	// A request without network marshals without the field.
	b, _ := json.Marshal(sandrun.Request{Language: "python", Code: "x"})
	if strings.Contains(string(b), "network") {
		t.Fatalf("none is not omitted: %s", b)
	}
}
