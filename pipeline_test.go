package sandrun_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
)

// recorder keeps what the pipeline recorded.
type recorder struct {
	mu     sync.Mutex
	begun  []*sandrun.Result
	ended  []*sandrun.Result
	limits []sandrun.Limits
}

func (r *recorder) Begin(_ context.Context, req *sandrun.Request, res *sandrun.Result) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := *res
	r.begun = append(r.begun, &c)
	return nil
}

func (r *recorder) Record(_ context.Context, req *sandrun.Request, res *sandrun.Result) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := *res
	r.ended = append(r.ended, &c)
	r.limits = append(r.limits, req.Limits)
	return nil
}

// fakeSession is a live session seen by the pipeline.
type fakeSession struct {
	limits sandrun.Limits
	steps  int
	got    *sandrun.Request
}

func (f *fakeSession) ID() string             { return "sess-1" }
func (f *fakeSession) Backend() string        { return "jail" }
func (f *fakeSession) Language() string       { return "python" }
func (f *fakeSession) Limits() sandrun.Limits { return f.limits }
func (f *fakeSession) Step(_ context.Context, r *sandrun.Request) (*sandrun.Result, error) {
	f.steps++
	f.got = r
	return &sandrun.Result{Status: sandrun.StatusOK, ExitCode: 0, Stdout: "step\n"}, nil
}

// gate is an Admission that refuses, or admits with a context the test
// cancels.
type gate struct {
	refuse  error
	cause   error
	tickets []sandrun.Ticket
	done    []*sandrun.Result
}

func (g *gate) Admit(ctx context.Context, t *sandrun.Ticket) (context.Context, func(*sandrun.Result), error) {
	g.tickets = append(g.tickets, *t)
	if g.refuse != nil {
		return nil, nil, g.refuse
	}
	c, cancel := context.WithCancelCause(ctx)
	if g.cause != nil {
		cancel(g.cause)
	}
	return c, func(res *sandrun.Result) { g.done = append(g.done, res); cancel(nil) }, nil
}

// cancelAware ends like a backend whose context was cancelled: killed,
// reported as a timeout.
type cancelAware struct{ fakeBackend }

func (c *cancelAware) Run(ctx context.Context, r *sandrun.Request) (*sandrun.Result, error) {
	<-ctx.Done()
	return &sandrun.Result{Status: sandrun.StatusTimeout, ExitCode: -1, Error: "cancelled by the caller"}, nil
}

func TestSessionStepGoesThroughThePipeline(t *testing.T) {
	rec := &recorder{}
	g := &gate{}
	sb, _ := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{&fakeBackend{name: "process"}},
		Analyzer: rejectLoops{}, Recorder: rec, Admission: g})
	sess := &fakeSession{limits: sandrun.DefaultLimits()}

	res, err := sb.Step(context.Background(), sess, &sandrun.Request{Code: "print(1)"})
	if err != nil || res.Status != sandrun.StatusOK || res.Session != "sess-1" || res.Backend != "jail" || res.Language != "python" {
		t.Fatalf("err %v res %+v", err, res)
	}
	if len(rec.begun) != 1 || len(rec.ended) != 1 || rec.ended[0].Session != "sess-1" || rec.ended[0].ID != res.ID {
		t.Fatalf("not recorded with its session: begun %d ended %+v", len(rec.begun), rec.ended)
	}
	if len(g.tickets) != 1 || g.tickets[0].Kind != "step" || g.tickets[0].Session != "sess-1" || len(g.done) != 1 {
		t.Fatalf("not admitted: %+v done %d", g.tickets, len(g.done))
	}
	// Static limits reject a step as they reject a run: never executed.
	res, err = sb.Step(context.Background(), sess, &sandrun.Request{Code: "while True: pass"})
	var rej *sandrun.RejectError
	if !errors.As(err, &rej) || res.Status != sandrun.StatusRejected || sess.steps != 1 {
		t.Fatalf("static limits let a step through: err %v status %s steps %d", err, res.Status, sess.steps)
	}
	if last := rec.ended[len(rec.ended)-1]; last.Status != sandrun.StatusRejected || last.Session != "sess-1" {
		t.Fatalf("rejected step not recorded: %+v", last)
	}
}

type rejectLoops struct{}

func (rejectLoops) Analyze(_, code string) error {
	if strings.Contains(code, "while") {
		return &sandrun.RejectError{Msg: "loops: 1 > 0"}
	}
	return nil
}

func TestStepLimits(t *testing.T) {
	sb, _ := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{&fakeBackend{name: "process"}}})
	sess := &fakeSession{limits: sandrun.DefaultLimits()}
	res, err := sb.Step(context.Background(), sess, &sandrun.Request{Code: "x", Limits: sandrun.Limits{WallTime: sandrun.Duration(time.Second), Output: 1024}})
	if err != nil || res == nil || sess.got.Limits.WallTime.D() != time.Second || sess.got.Limits.Output != 1024 || sess.got.Limits.Memory != sess.limits.Memory {
		t.Fatalf("err %v limits %+v", err, sess.got.Limits)
	}
	for field, l := range map[string]sandrun.Limits{
		"limits.memory":    {Memory: 512 << 20},
		"limits.wall_time": {WallTime: sandrun.Duration(time.Minute)},
		"limits.output":    {Output: 1 << 30},
		"limits.processes": {Processes: 2},
	} {
		res, err = sb.Step(context.Background(), sess, &sandrun.Request{Code: "x", Limits: l})
		if !errors.Is(err, sandrun.ErrBadRequest) || !strings.Contains(res.Error, field+":") {
			t.Errorf("%s: err %v", field, err)
		}
	}
	// Repeating the session's own value is fine.
	if _, err := sb.Step(context.Background(), sess, &sandrun.Request{Code: "x", Limits: sandrun.Limits{Memory: sess.limits.Memory}}); err != nil {
		t.Fatal(err)
	}
}

func TestPolicyCapsAndResolves(t *testing.T) {
	proc := &fakeBackend{name: "process"}
	rec := &recorder{}
	caps := sandrun.Limits{Memory: 1 << 30, Output: 4 << 20}
	sb, _ := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{proc}, Recorder: rec,
		Policy: sandrun.Policy{Caps: caps, Defaults: sandrun.Limits{Output: 8 << 20}, Source: "test host"}})
	res, err := sb.Run(context.Background(), &sandrun.Request{Language: "python", Code: "x", Limits: sandrun.Limits{Memory: 2 << 30}})
	if !errors.Is(err, sandrun.ErrBadRequest) || proc.calls != 0 ||
		!strings.Contains(res.Error, "limits.memory: 2GiB is above the cap of 1GiB (test host)") {
		t.Fatalf("err %v", err)
	}
	if _, err := sb.Run(context.Background(), &sandrun.Request{Language: "python", Code: "x"}); err != nil {
		t.Fatal(err)
	}
	got := proc.got.Limits
	if err := got.Resolved(); err != nil {
		t.Fatalf("backend got unresolved limits: %v", err)
	}
	// A default above its cap is lowered to it.
	if got.Output != 4<<20 || got.Memory != sandrun.DefaultLimits().Memory {
		t.Fatalf("limits %+v", got)
	}
	if rec.limits[len(rec.limits)-1] != got {
		t.Fatalf("recorded limits %+v, ran with %+v", rec.limits[len(rec.limits)-1], got)
	}
}

func TestHostPolicy(t *testing.T) {
	p := sandrun.HostPolicy(2, t.TempDir())
	l := sandrun.MaxLimits()
	if p.Caps.Memory > l.Memory || p.Caps.WorkDir > p.Caps.Memory || p.Caps.FileSize > p.Caps.WorkDir ||
		p.Caps.Output > 64<<20 || p.Caps.OpenFiles > l.OpenFiles || p.Defaults.Memory > p.Caps.Memory {
		t.Fatalf("caps %+v defaults %+v", p.Caps, p.Defaults)
	}
	if !strings.Contains(p.Source, "2 runs at a time") {
		t.Fatalf("source %q", p.Source)
	}
	one := sandrun.HostPolicy(1, t.TempDir())
	if one.Caps.Memory < p.Caps.Memory {
		t.Fatalf("one slot gets less memory (%s) than two (%s)", one.Caps.Memory, p.Caps.Memory)
	}
}

func TestBadFileSets(t *testing.T) {
	proc := &fakeBackend{name: "process"}
	sb, _ := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{proc}})
	big := base64.StdEncoding.EncodeToString(make([]byte, 3<<20))
	cases := []struct {
		name  string
		req   sandrun.Request
		field string
	}{
		{"file and its directory", sandrun.Request{Files: []sandrun.InputFile{{Name: "a"}, {Name: "a/b"}}}, "files[1].name"},
		{"directory then file", sandrun.Request{Files: []sandrun.InputFile{{Name: "x/y/z"}, {Name: "x/y"}}}, "files[0].name"},
		{"a trailing slash", sandrun.Request{Files: []sandrun.InputFile{{Name: "a/"}}}, "files[0].name"},
		{"entry file", sandrun.Request{Files: []sandrun.InputFile{{Name: "./main.py", Content: "evil"}}}, "files[0].name"},
		{"over the work dir", sandrun.Request{Limits: sandrun.Limits{WorkDir: 2 << 20}, Files: []sandrun.InputFile{{Name: "blob", Content: big, Encoding: "base64"}}}, "files"},
		{"invalid UTF-8 file name", sandrun.Request{Files: []sandrun.InputFile{{Name: "a\xff"}}}, "files[0].name"},
		{"invalid UTF-8 arg", sandrun.Request{Args: []string{"ok", "\xc3\x28"}}, "args[1]"},
		{"invalid UTF-8 env", sandrun.Request{Env: map[string]string{"X": "\xff"}}, "env.X"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.req.Language, c.req.Code = "python", "print(1)"
			res, err := sb.Run(context.Background(), &c.req)
			if !errors.Is(err, sandrun.ErrBadRequest) || !strings.Contains(res.Error, c.field+":") {
				t.Fatalf("err %v, want a bad request naming %s", err, c.field)
			}
		})
	}
	if proc.calls != 0 {
		t.Fatalf("backend ran %d bad requests", proc.calls)
	}
	// The same bytes under the cap are fine.
	ok := sandrun.Request{Language: "python", Code: "x", Files: []sandrun.InputFile{{Name: "a/b"}, {Name: "a/c"}, {Name: "blob", Content: big, Encoding: "base64"}}}
	if _, err := sb.Run(context.Background(), &ok); err != nil {
		t.Fatal(err)
	}
}

func TestUnsupportedLanguageIsABadRequest(t *testing.T) {
	star := &fakeBackend{name: "restricted", unavail: sandrun.Unsupported("the restricted tier runs only starlark")}
	sb, _ := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{&fakeBackend{name: "process"}, star}})
	res, err := sb.Run(context.Background(), &sandrun.Request{Language: "python", Code: "x", Backend: "restricted"})
	if !errors.Is(err, sandrun.ErrBadRequest) || !strings.Contains(res.Error, "backend: the restricted tier runs only starlark") {
		t.Fatalf("err %v", err)
	}
}

func TestAdmissionRefusalIsNotRecorded(t *testing.T) {
	proc := &fakeBackend{name: "process"}
	rec := &recorder{}
	g := &gate{refuse: &sandrun.BusyError{Reason: "queue_full", Msg: "full", RetryAfter: time.Second}}
	sb, _ := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{proc}, Recorder: rec, Admission: g})
	res, err := sb.Run(context.Background(), &sandrun.Request{Language: "bash", Code: "true"})
	var busy *sandrun.BusyError
	if !errors.As(err, &busy) || res.Status != sandrun.StatusRejected || proc.calls != 0 || len(rec.ended)+len(rec.begun) != 0 {
		t.Fatalf("err %v res %+v calls %d records %d", err, res, proc.calls, len(rec.ended))
	}
	// A bad request never reaches admission.
	if _, err := sb.Run(context.Background(), &sandrun.Request{Language: "bash"}); !errors.Is(err, sandrun.ErrBadRequest) || len(g.tickets) != 1 {
		t.Fatalf("err %v tickets %d", err, len(g.tickets))
	}
}

func TestDrainedRunSaysSo(t *testing.T) {
	rec := &recorder{}
	g := &gate{cause: sandrun.ErrShutdown}
	sb, _ := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{&cancelAware{fakeBackend{name: "process"}}}, Recorder: rec, Admission: g})
	res, err := sb.Run(context.Background(), &sandrun.Request{Language: "bash", Code: "sleep 100"})
	if err != nil || res.Status != sandrun.StatusCancelled || !strings.Contains(res.Error, "server shut down") || res.Success {
		t.Fatalf("err %v res %+v", err, res)
	}
	if len(g.done) != 1 || g.done[0].Status != sandrun.StatusCancelled || len(rec.ended) != 1 || rec.ended[0].Status != sandrun.StatusCancelled {
		t.Fatalf("done %d recorded %+v", len(g.done), rec.ended)
	}
	g.cause = errors.New("client went away")
	res, _ = sb.Run(context.Background(), &sandrun.Request{Language: "bash", Code: "sleep 100"})
	if res.Status != sandrun.StatusCancelled || !strings.Contains(res.Error, "caller went away") {
		t.Fatalf("res %+v", res)
	}
}

// collector returns one file past the cap, as collectors do when more
// matched.
type collector struct{ fakeBackend }

func (c *collector) Run(context.Context, *sandrun.Request) (*sandrun.Result, error) {
	res := &sandrun.Result{Status: sandrun.StatusOK}
	for i := range c.calls {
		res.Files = append(res.Files, sandrun.OutputFile{Name: fmt.Sprintf("f%03d", i)})
	}
	return res, nil
}

func TestCollectTruncationIsFlagged(t *testing.T) {
	c := &collector{fakeBackend{name: "process"}}
	sb, _ := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{c}})
	for _, n := range []int{sandrun.MaxCollectFiles, sandrun.MaxCollectFiles + 1} {
		c.calls = n
		res, err := sb.Run(context.Background(), &sandrun.Request{Language: "bash", Code: "x", Collect: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		want := n > sandrun.MaxCollectFiles
		if len(res.Files) != sandrun.MaxCollectFiles || res.FilesTruncated != want || (len(res.Warnings) > 0) != want {
			t.Fatalf("%d collected: %d files, truncated %v, warnings %q", n, len(res.Files), res.FilesTruncated, res.Warnings)
		}
	}
}
