package main

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

func TestDoctorJSON(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main(context.Background(), &cliEnv{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}, []string{"doctor", "--json"})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var rep doctorReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if len(rep.Backends) == 0 || rep.Backends[0].Name != "jail" {
		t.Fatalf("backends %+v: the jail must be registered first", rep.Backends)
	}
	if runtime.GOOS != "linux" {
		return
	}
	names := map[string]bool{}
	for _, d := range rep.Layers {
		names[d.Name] = true
		if d.Detail == "" {
			t.Errorf("layer %s has no detail", d.Name)
		}
	}
	for _, n := range []string{"jail/user namespaces", "jail/seccomp", "jail/landlock", "jail/cgroup", "jail/network namespace"} {
		if !names[n] {
			t.Errorf("doctor does not report %s", n)
		}
	}
	for l, why := range rep.Auto {
		if why == "" {
			t.Errorf("auto for %s is empty", l)
		}
	}
}
