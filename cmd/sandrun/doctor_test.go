package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
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

// TestDoctorWarm: doctor lists the warm path per language (what serve
// keeps), and with --warm starts it as serve does: each language's
// zygote or prestarted interpreters are ready and the probe (one empty
// program) was served warm.
func TestDoctorWarm(t *testing.T) {
	doctor := func(args ...string) doctorReport {
		var out, errb bytes.Buffer
		code := Main(context.Background(), &cliEnv{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}, append([]string{"doctor", "--json"}, args...))
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		var rep doctorReport
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		return rep
	}
	rep := doctor()
	if len(rep.Warm) == 0 {
		t.Fatal("no warm path listed")
	}
	for n, w := range rep.Warm {
		if (w.Kind != "zygote" && w.Kind != "prestart" && w.Kind != "guest") || w.Planned < 1 || w.Status != nil {
			t.Errorf("%s: %+v (without --warm nothing is started)", n, w)
		}
	}
	if testing.Short() || runtime.GOOS != "linux" || os.Geteuid() != 0 {
		return // the warm path needs the jail as root
	}
	for n, w := range doctor("--warm").Warm {
		if s := w.Status; s == nil || s.Ready < 1 || s.Warm != 1 || len(s.Cold) != 0 || s.Error != "" {
			t.Errorf("%s after --warm: %+v %+v", n, w, s)
		}
	}
}
