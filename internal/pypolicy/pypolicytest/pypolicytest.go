//go:build linux

// Package pypolicytest runs restricted python's policy in a plain local
// python, with no OS sandbox around it: a guest.Runner for the tests of
// the layers above the jail (the restricted tier's host API, statuses and
// variables). Never use it to run untrusted code.
package pypolicytest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/guest"
	"github.com/sandrun/sandrun/internal/pypolicy"
	"github.com/sandrun/sandrun/lang"
)

// Bootstrap reads {"policy": source, "config": config} from stdin,
// loads the policy as the guest zygote does and runs main() with the
// channel on fd 3.
const Bootstrap = `
import sys, types, json
d = json.loads(sys.stdin.read())
m = types.ModuleType("sandrun_rpolicy")
exec(compile(d["policy"], "policy.py", "exec"), m.__dict__)
sys.modules["sandrun_rpolicy"] = m
m.main(d["config"], 3)
`

// Stdin is Bootstrap's input for one run's config.
func Stdin(config []byte) string {
	b, _ := json.Marshal(map[string]any{"policy": pypolicy.Source(), "config": json.RawMessage(config)})
	return string(b)
}

// Runner is a guest.Runner for the policy alone.
type Runner struct {
	Python string // the interpreter
}

var _ guest.Runner = (*Runner)(nil)

// New finds python.
func New(ctx context.Context) (*Runner, error) {
	l, err := lang.NewRegistry(lang.Options{}).Lookup(ctx, lang.Python)
	if err != nil {
		return nil, err
	}
	return &Runner{Python: l.Interpreter}, nil
}

// CheckGuest implements guest.Runner.
func (r *Runner) CheckGuest(_ context.Context, name string) error {
	if name != pypolicy.GuestName {
		return fmt.Errorf("pypolicytest: no guest %q", name)
	}
	return nil
}

// RunGuest implements guest.Runner: the program's exit decides ok or
// exit_error; the wall-clock limit kills it (timeout).
func (r *Runner) RunGuest(ctx context.Context, req *sandrun.Request, run *guest.Run) (*sandrun.Result, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	conn, child := os.NewFile(uintptr(fds[0]), "parent"), os.NewFile(uintptr(fds[1]), "child")
	defer conn.Close()
	wall := req.Limits.WallTime.D()
	if wall <= 0 {
		wall = sandrun.Limits{}.WithDefaults().WallTime.D()
	}
	cctx, cancel := context.WithTimeout(ctx, wall)
	defer cancel()
	cmd := exec.CommandContext(cctx, r.Python, "-E", "-s", "-B", "-c", Bootstrap)
	cmd.Stdin = strings.NewReader(Stdin(run.Config))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.ExtraFiles = []*os.File{child}
	if err := cmd.Start(); err != nil {
		child.Close()
		return nil, err
	}
	child.Close()
	var wg sync.WaitGroup
	if run.Serve != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run.Serve(conn)
		}()
	}
	werr := cmd.Wait()
	conn.Close()
	wg.Wait()
	res := &sandrun.Result{Stdout: stdout.String(), Stderr: stderr.String(), Status: sandrun.StatusOK}
	var ee *exec.ExitError
	switch {
	case cctx.Err() == context.DeadlineExceeded && ctx.Err() == nil:
		res.Status, res.ExitCode, res.Error = sandrun.StatusTimeout, -1, "the program ran longer than its wall-clock limit"
	case errors.As(werr, &ee):
		res.Status, res.ExitCode, res.Error = sandrun.StatusExitError, ee.ExitCode(), fmt.Sprintf("the program exited with code %d", ee.ExitCode())
	case werr != nil:
		return nil, werr
	}
	return res, nil
}

// LaunchGuest implements guest.Runner: the policy in a local python whose
// streams the caller drives.
func (r *Runner) LaunchGuest(ctx context.Context, spec *sandrun.LaunchSpec, run *guest.Run) (sandrun.Launched, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	conn, child := os.NewFile(uintptr(fds[0]), "parent"), os.NewFile(uintptr(fds[1]), "child")
	// The config goes in as fd 4's contents: stdin is the caller's.
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(r.Python, "-E", "-s", "-B", "-c", launchBootstrap)
	cmd.ExtraFiles = []*os.File{child, cfgR}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	child.Close()
	cfgR.Close()
	go func() {
		_, _ = io.WriteString(cfgW, Stdin(run.Config))
		cfgW.Close()
	}()
	p := &launched{cmd: cmd, conn: conn, stdin: stdin, stdout: stdout, stderr: stderr, served: make(chan struct{})}
	if run.Serve != nil {
		go func() {
			defer close(p.served)
			run.Serve(conn)
		}()
	} else {
		close(p.served)
	}
	return p, nil
}

// launchBootstrap is Bootstrap reading its input from fd 4.
const launchBootstrap = `
import sys, types, json, os
d = json.loads(os.fdopen(4).read())
m = types.ModuleType("sandrun_rpolicy")
exec(compile(d["policy"], "policy.py", "exec"), m.__dict__)
sys.modules["sandrun_rpolicy"] = m
m.main(d["config"], 3)
`

type launched struct {
	cmd            *exec.Cmd
	conn           *os.File
	stdin          io.WriteCloser
	stdout, stderr io.Reader
	served         chan struct{}
	once           sync.Once
	exit           *sandrun.LaunchExit
}

func (p *launched) Stdin() io.Writer               { return p.stdin }
func (p *launched) Stdout() io.Reader              { return p.stdout }
func (p *launched) Stderr() io.Reader              { return p.stderr }
func (p *launched) Signal(sig os.Signal) error     { return p.cmd.Process.Signal(sig) }
func (p *launched) SetLimits(sandrun.Limits) error { return errors.New("pypolicytest: no limits") }
func (p *launched) Kill() error                    { return p.cmd.Process.Kill() }
func (p *launched) WorkDir() string                { return "" }
func (p *launched) Wait() (*sandrun.LaunchExit, error) {
	p.once.Do(func() {
		err := p.cmd.Wait()
		p.conn.Close()
		<-p.served
		p.exit = &sandrun.LaunchExit{Status: sandrun.StatusOK}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.exit.Status, p.exit.ExitCode = sandrun.StatusExitError, ee.ExitCode()
		}
	})
	return p.exit, nil
}
