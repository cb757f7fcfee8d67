package sandrun_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/lang"
)

// fakeBackend records calls and returns a canned outcome.
type fakeBackend struct {
	name    string
	unavail error
	calls   int
	got     *sandrun.Request
	err     error
}

func (f *fakeBackend) Name() string                        { return f.name }
func (f *fakeBackend) Check(context.Context, string) error { return f.unavail }
func (f *fakeBackend) Run(_ context.Context, r *sandrun.Request) (*sandrun.Result, error) {
	f.calls++
	f.got = r
	if f.err != nil {
		return nil, f.err
	}
	return &sandrun.Result{Status: sandrun.StatusOK, ExitCode: 0, Stdout: "hi\n"}, nil
}

func TestAutoPicksStrongestAvailable(t *testing.T) {
	jail := &fakeBackend{name: "jail", unavail: errors.New("no user namespaces")}
	proc := &fakeBackend{name: "process"}
	sb, err := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{jail, proc}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := sb.Run(context.Background(), &sandrun.Request{Language: "py", Code: "print(1)"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Backend != "process" || proc.calls != 1 || jail.calls != 0 || !res.Success {
		t.Fatalf("backend %s calls %d/%d", res.Backend, jail.calls, proc.calls)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "no user namespaces") {
		t.Fatalf("warnings %q", res.Warnings)
	}
	if proc.got.Language != "python" || proc.got.Limits != sandrun.DefaultLimits() {
		t.Fatalf("request not normalized: %+v", proc.got)
	}
	if sum := sha256.Sum256([]byte("print(1)")); res.CodeSHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("sha %q", res.CodeSHA256)
	}
}

// A failed language probe on a stronger tier stops auto: it must not move
// the run to a weaker tier that happens to work.
func TestAutoStopsAtProbeFailure(t *testing.T) {
	jail := &fakeBackend{name: "jail", unavail: &lang.ProbeError{Language: "python", Exe: "/x/python3", Err: errors.New("signal: killed"), TimedOut: true}}
	proc := &fakeBackend{name: "process"}
	sb, err := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{jail, proc}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := sb.Run(context.Background(), &sandrun.Request{Language: "python", Code: "print(1)"})
	if proc.calls != 0 || !errors.Is(err, lang.ErrProbeFailed) || res.Status != sandrun.StatusInternalError && res.Status != sandrun.StatusRejected {
		t.Fatalf("auto after a failed probe: backend %q status %s, process calls %d, err %v", res.Backend, res.Status, proc.calls, err)
	}
	t.Logf("%s: %s", res.Status, res.Error)
}

func TestBadRequestsNeverRun(t *testing.T) {
	proc := &fakeBackend{name: "process"}
	sb, _ := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{proc}})
	big := strings.Repeat("x", sandrun.MaxCodeSize+1)
	cases := []struct {
		name  string
		req   sandrun.Request
		field string
	}{
		{"unknown language", sandrun.Request{Language: "cobol", Code: "x"}, "language"},
		{"missing language", sandrun.Request{Code: "x"}, "language"},
		{"unknown backend", sandrun.Request{Language: "python", Code: "x", Backend: "vm"}, "backend"},
		{"empty code", sandrun.Request{Language: "python", Code: "  \n"}, "code"},
		{"oversized code", sandrun.Request{Language: "python", Code: big}, "code"},
		{"negative memory", sandrun.Request{Language: "python", Code: "x", Limits: sandrun.Limits{Memory: -1}}, "limits.memory"},
		{"absurd wall time", sandrun.Request{Language: "python", Code: "x", Limits: sandrun.Limits{WallTime: sandrun.Duration(48 * time.Hour)}}, "limits.wall_time"},
		{"absurd processes", sandrun.Request{Language: "python", Code: "x", Limits: sandrun.Limits{Processes: 1 << 20}}, "limits.processes"},
		{"tiny memory", sandrun.Request{Language: "python", Code: "x", Limits: sandrun.Limits{Memory: 1024}}, "limits.memory"},
		{"network on a tier without it", sandrun.Request{Language: "python", Code: "x", Network: sandrun.NetworkPolicy{Allow: []sandrun.NetworkRule{{Host: "example.org", Ports: []sandrun.PortRange{{From: 443, To: 443}}}}}}, "network"},
		{"network bad host", sandrun.Request{Language: "python", Code: "x", Network: sandrun.NetworkPolicy{Allow: []sandrun.NetworkRule{{Host: "exa mple.org", Ports: []sandrun.PortRange{{From: 443, To: 443}}}}}}, "network.allow[0].host"},
		{"file escapes", sandrun.Request{Language: "python", Code: "x", Files: []sandrun.InputFile{{Name: "../etc/passwd"}}}, "files[0].name"},
		{"absolute file", sandrun.Request{Language: "python", Code: "x", Files: []sandrun.InputFile{{Name: "/etc/passwd"}}}, "files[0].name"},
		{"bad base64", sandrun.Request{Language: "python", Code: "x", Files: []sandrun.InputFile{{Name: "a", Content: "!!", Encoding: "base64"}}}, "files[0].content"},
		{"duplicate file", sandrun.Request{Language: "python", Code: "x", Files: []sandrun.InputFile{{Name: "a"}, {Name: "./a"}}}, "files[1].name"},
		{"bad env name", sandrun.Request{Language: "python", Code: "x", Env: map[string]string{"A=B": "c"}}, "env"},
		{"reserved env", sandrun.Request{Language: "python", Code: "x", Env: map[string]string{"PATH": "/evil"}}, "env.PATH"},
		{"collect escapes", sandrun.Request{Language: "python", Code: "x", Collect: []string{"../*"}}, "collect[0]"},
		{"NUL in code", sandrun.Request{Language: "python", Code: "print(1)\x00"}, "code"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := sb.Run(context.Background(), &c.req)
			if err == nil || !errors.Is(err, sandrun.ErrBadRequest) {
				t.Fatalf("err = %v, want a bad request", err)
			}
			if res.Status != sandrun.StatusRejected || res.Success || !strings.Contains(res.Error, c.field+":") {
				t.Fatalf("status %s error %q, want rejected naming %s", res.Status, res.Error, c.field)
			}
		})
	}
	if proc.calls != 0 {
		t.Fatalf("backend ran %d bad requests", proc.calls)
	}
}

func TestBackendFailureIsInternalError(t *testing.T) {
	proc := &fakeBackend{name: "process", err: errors.New("cgroup: permission denied")}
	sb, _ := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{proc}})
	res, err := sb.Run(context.Background(), &sandrun.Request{Language: "bash", Code: "true"})
	if err == nil || res.Status != sandrun.StatusInternalError || !strings.Contains(res.Error, "cgroup") || res.Success {
		t.Fatalf("err %v res %+v", err, res)
	}
	unavailable := &fakeBackend{name: "jail", unavail: errors.New("seccomp missing")}
	sb, _ = sandrun.New(sandrun.Options{Backends: []sandrun.Backend{unavailable}})
	res, err = sb.Run(context.Background(), &sandrun.Request{Language: "bash", Code: "true", Backend: "jail"})
	var ue *sandrun.UnavailableError
	if !errors.As(err, &ue) || res.Status != sandrun.StatusInternalError || !strings.Contains(res.Error, "seccomp missing") || unavailable.calls != 0 {
		t.Fatalf("err %v res %+v", err, res)
	}
}

type rejectAll struct{}

func (rejectAll) Analyze(string, string) error { return &sandrun.RejectError{Msg: "loops 12 > 10"} }

func TestAnalyzerRejects(t *testing.T) {
	proc := &fakeBackend{name: "process"}
	sb, _ := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{proc}, Analyzer: rejectAll{}})
	res, _ := sb.Run(context.Background(), &sandrun.Request{Language: "bash", Code: "true"})
	if res.Status != sandrun.StatusRejected || res.Error != "loops 12 > 10" || proc.calls != 0 {
		t.Fatalf("%+v", res)
	}
}

func TestUnitsAndJSON(t *testing.T) {
	for in, want := range map[string]sandrun.Bytes{"256MiB": 256 << 20, "1GiB": 1 << 30, "4096": 4096, "10MB": 10_000_000, "1.5KiB": 1536} {
		got, err := sandrun.ParseBytes(in)
		if err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "-1MiB", "lots", "12XB", "NaN"} {
		if _, err := sandrun.ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) accepted", bad)
		}
	}
	for in, want := range map[string]time.Duration{"10s": 10 * time.Second, "250ms": 250 * time.Millisecond, "2": 2 * time.Second} {
		got, err := sandrun.ParseDuration(in)
		if err != nil || got.D() != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "-3s", "ten seconds", "5 parsecs"} {
		if _, err := sandrun.ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
	var l sandrun.Limits
	if err := json.Unmarshal([]byte(`{"wall_time":"2s","cpu_time":1500,"memory":"64MiB","output":1024}`), &l); err != nil {
		t.Fatal(err)
	}
	if l.WallTime.D() != 2*time.Second || l.CPUTime.D() != 1500*time.Millisecond || l.Memory != 64<<20 || l.Output != 1024 {
		t.Fatalf("%+v", l)
	}
	if err := json.Unmarshal([]byte(`{"memory":"lots"}`), &l); err == nil {
		t.Fatal("malformed memory accepted")
	}
	// Zero means the default: a value that is not zero but would round to
	// it is refused, not silently turned into the default; a number of
	// milliseconds past time.Duration's range is refused, not wrapped.
	for _, bad := range []string{`{"memory":"0.4B"}`, `{"memory":0.4}`, `{"cpu_time":"0.1ns"}`, `{"wall_time":"0.4ns"}`, `{"wall_time":1e-7}`, `{"wall_time":1e14}`, `{"cpu_time":-1e13}`} {
		var l sandrun.Limits
		if err := json.Unmarshal([]byte(bad), &l); err == nil {
			t.Errorf("%s accepted as %+v", bad, l)
		}
	}
	b, _ := json.Marshal(sandrun.Result{Status: sandrun.StatusOK})
	for _, k := range []string{`"exit_code"`, `"stdout_truncated"`, `"code_sha256"`, `"started_at"`, `"usage":{"wall_ms"`, `"memory_peak_bytes"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("result JSON lacks %s: %s", k, b)
		}
	}
}
