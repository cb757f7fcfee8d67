package restricted

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/capture"
	"github.com/sandrun/sandrun/internal/guest"
	"github.com/sandrun/sandrun/internal/pypolicy"
)

// Restricted python (docs/architecture/restricted.md): real CPython under
// internal/pypolicy's language policy, run as a guest of an OS sandbox
// (Options.Python, the jail's warm path), so that the policy is one layer
// and the sandbox the boundary under it. This file routes a python request
// there and serves the run's channel: host calls (the same host API and
// wire format as Starlark's worker protocol) and the policy's report.

// pythonLanguage is the language the policy runs.
var pythonLanguage = pypolicy.Guest().Language

// DefaultPythonStepsPerCPUSecond turns the CPU limit into restricted
// python's step budget (loop iterations, comprehension items and calls;
// a step costs at least about 50 ns, so the budget ends a program about
// when its CPU limit would).
const DefaultPythonStepsPerCPUSecond = 20_000_000

// checkPython says whether restricted python can run here.
func (b *Backend) checkPython(ctx context.Context) error {
	if b.opts.Python == nil {
		return errors.New("restricted python runs inside the jail (a zygote's child under the policy), and this sandbox has no jail wired for it (restricted.Options.Python)")
	}
	if err := b.opts.Python.CheckGuest(ctx, pypolicy.GuestName); err != nil {
		return fmt.Errorf("restricted python needs the jail's warm path: %w", err)
	}
	return nil
}

// pythonRun is one restricted python run's side of the channel.
type pythonRun struct {
	hc       *hostCaller
	maxCall  int
	maxDone  int
	mu       sync.Mutex
	done     *pypolicy.Done
	violated error
}

// serve answers the program's host calls and keeps its report. Every
// frame is untrusted: the program shares its process with the policy.
func (p *pythonRun) serve(conn io.ReadWriter) {
	r := bufio.NewReaderSize(conn, 64<<10)
	w := bufio.NewWriter(conn)
	for {
		kind, payload, err := readFrame(r, max(p.maxCall, p.maxDone))
		if err != nil {
			// The end of the channel (the program ended or was killed,
			// or the run is over) is not a violation; a frame over its
			// cap is.
			if errors.Is(err, errOversize) {
				p.violation(err)
			}
			return
		}
		switch kind {
		case frameCall:
			if len(payload) > p.maxCall {
				p.violation(fmt.Errorf("host call of %d bytes", len(payload)))
				return
			}
			if err := writeJSON(w, frameReturn, p.hc.call(payload)); err != nil {
				return
			}
		case frameDone:
			var d pypolicy.Done
			if err := json.Unmarshal(payload, &d); err != nil {
				p.violation(fmt.Errorf("bad report: %w", err))
				return
			}
			p.mu.Lock()
			if p.done == nil {
				p.done = &d
			}
			p.mu.Unlock()
		default:
			p.violation(fmt.Errorf("unexpected frame kind %q", kind))
			return
		}
	}
}

// reported says whether the policy's report came (guest.Run.Over): the
// program's run is over, whatever its process does next.
func (p *pythonRun) reported() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done != nil && p.violated == nil
}

func (p *pythonRun) violation(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.violated == nil {
		p.violated = err
	}
}

// pythonConfig completes a guest's config with what every run under the
// policy has: the policy on, the host functions, the allowed modules the
// operator chose, the size bounds.
func (b *Backend) pythonConfig(c pypolicy.Config) ([]byte, error) {
	c.Policy = true
	if b.host != nil {
		c.Host = b.host.raw
	}
	for _, m := range b.opts.Modules {
		if slices.Contains(pypolicy.AllowedModules(), m) {
			c.Modules = append(c.Modules, m)
		}
	}
	c.MaxHostArgBytes, c.MaxVariableBytes = b.opts.MaxHostArgBytes, b.opts.MaxVariableBytes
	return json.Marshal(c)
}

// runPython runs a python request under the policy in the jail.
func (b *Backend) runPython(ctx context.Context, req *sandrun.Request) (*sandrun.Result, error) {
	if err := b.checkPython(ctx); err != nil {
		return nil, err
	}
	lim := req.Limits
	steps := uint64(max(math.Ceil(lim.CPUTime.D().Seconds()*float64(b.opts.PythonStepsPerCPUSecond)), 1))
	cfg, err := b.pythonConfig(pypolicy.Config{Code: req.Code, FileName: "main.py", MaxSteps: steps})
	if err != nil {
		return nil, err
	}
	// Host functions' own print output (rare) is kept apart and added
	// after the program's.
	hostOut := capture.New("stdout", int64(lim.Output), nil, nil)
	hc := newHostCaller(ctx, b.host, time.Now().Add(lim.WallTime.D()), &runSpec{MaxSteps: max(steps, 1)}, hostOut, b.opts.MaxHostArgBytes)
	defer hc.cancel()
	p := &pythonRun{
		hc:      hc,
		maxCall: b.opts.MaxHostArgBytes + maxFrameSlack,
		maxDone: 2*b.opts.MaxVariableBytes + 6*(maxStderr+maxError) + maxFrameSlack,
	}
	res, err := b.opts.Python.RunGuest(ctx, req, &guest.Run{Guest: pypolicy.GuestName, Config: cfg, Serve: p.serve, Over: p.reported})
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	done, violated := p.done, p.violated
	p.mu.Unlock()
	if extra := hostOut.Text(); extra != "" {
		res.Stdout += extra
	}
	pythonVerdict(res, done, violated, hc, lim, ctx.Err() != nil)
	return res, nil
}

// pythonVerdict adds the policy's report to the sandbox's account of the
// process. A limit the sandbox enforced (timeout, memory, output, CPU)
// stands; otherwise the report says how the program ended. A run that
// ended without a report, or whose channel broke the protocol, is an
// internal error: nothing it printed is taken as its result.
func pythonVerdict(res *sandrun.Result, done *pypolicy.Done, violated error, hc *hostCaller, lim sandrun.Limits, cancelled bool) {
	if res.Status != sandrun.StatusOK && res.Status != sandrun.StatusExitError {
		return
	}
	if hc.cut() {
		res.Status, res.ExitCode = sandrun.StatusTimeout, -1
		res.Error = fmt.Sprintf("the program ran longer than its wall-clock limit of %s (in a host function call) and was stopped", lim.WallTime.D())
		if cancelled {
			res.Error = "the run was cancelled by the caller and the program was stopped"
		}
		return
	}
	switch {
	case violated != nil:
		res.Status, res.ExitCode = sandrun.StatusInternalError, -1
		res.Error = "restricted python: protocol violation on the policy's channel: " + violated.Error()
		return
	case done == nil:
		res.Status, res.ExitCode = sandrun.StatusInternalError, -1
		res.Error = "restricted python: the program's process ended without the policy's report (" + orNone(res.Error) + ")"
		return
	}
	if len(done.Variables) > 0 {
		dec := json.NewDecoder(bytes.NewReader(done.Variables))
		dec.UseNumber() // 3.0 stays 3.0, big ints stay exact
		var vars map[string]any
		if dec.Decode(&vars) == nil {
			res.Variables = vars
		}
	}
	switch done.Status {
	case "ok":
		if res.Status == sandrun.StatusOK {
			return
		}
	case "exit_error":
		res.Status, res.ExitCode = sandrun.StatusExitError, max(done.Exit, 1)
	case "compile_error":
		res.Status, res.ExitCode = sandrun.StatusCompileError, 1
	case "cpu_limit":
		res.Status, res.ExitCode = sandrun.StatusCPULimit, -1
		done.Error = fmt.Sprintf("%s, set from its CPU-time limit of %s", done.Error, lim.CPUTime.D())
	default:
		res.Status, res.ExitCode = sandrun.StatusInternalError, -1
	}
	if done.Error != "" {
		res.Error = truncate(done.Error, maxError)
	}
}

func orNone(s string) string {
	if s == "" {
		return "no message"
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

var _ sandrun.Launcher = (*Backend)(nil)

// Launch implements sandrun.Launcher for restricted python sessions: one
// guest child running the policy's session driver (internal/driver's
// protocol on its stdin and stdout) in a persistent namespace, with the
// host API for its whole life. spec.Args (a driver for another launcher)
// are not used: the policy is the driver.
func (b *Backend) Launch(ctx context.Context, spec *sandrun.LaunchSpec) (sandrun.Launched, error) {
	if spec.Language != pythonLanguage {
		return nil, sandrun.Unsupported(fmt.Sprintf("the restricted tier hosts %s sessions only (run %s sessions on the jail or process tier)", pythonLanguage, spec.Language))
	}
	if err := b.checkPython(ctx); err != nil {
		return nil, err
	}
	if len(spec.Files) > 0 {
		return nil, &sandrun.RequestError{Field: "files", Msg: "the restricted tier has no filesystem; use a jail or process session for files"}
	}
	cfg, err := b.pythonConfig(pypolicy.Config{Mode: "session", FileName: "<stdin>"})
	if err != nil {
		return nil, err
	}
	// Host calls are answered for the session's whole life (its
	// WallTime); a step's interrupt stops the program in the call.
	lctx := context.WithoutCancel(ctx)
	hc := newHostCaller(lctx, b.host, time.Now().Add(spec.Limits.WallTime.D()), &runSpec{MaxSteps: math.MaxUint64}, capture.New("stdout", 0, nil, nil), b.opts.MaxHostArgBytes)
	p := &pythonRun{hc: hc, maxCall: b.opts.MaxHostArgBytes + maxFrameSlack, maxDone: 2*b.opts.MaxVariableBytes + 6*(maxStderr+maxError) + maxFrameSlack}
	l, err := b.opts.Python.LaunchGuest(ctx, spec, &guest.Run{Guest: pypolicy.GuestName, Config: cfg, Serve: p.serve})
	if err != nil {
		hc.cancel()
		return nil, err
	}
	return &pythonSession{Launched: l, cancel: hc.cancel}, nil
}

// pythonSession ends its host calls with the session.
type pythonSession struct {
	sandrun.Launched
	cancel context.CancelFunc
}

func (s *pythonSession) Wait() (*sandrun.LaunchExit, error) {
	defer s.cancel()
	return s.Launched.Wait()
}

// UsageSoFar implements sandrun.UsageReporter when the runner's process
// does.
func (s *pythonSession) UsageSoFar() sandrun.Usage {
	if r, ok := s.Launched.(sandrun.UsageReporter); ok {
		return r.UsageSoFar()
	}
	return sandrun.Usage{}
}
