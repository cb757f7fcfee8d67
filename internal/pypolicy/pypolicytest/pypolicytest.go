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
