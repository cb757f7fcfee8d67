// Command sandrun runs untrusted code in a sandbox. This file is the thin
// entry: it dispatches to one file per subcommand and is the only place
// that calls os.Exit.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"syscall"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/backend/restricted"
	"github.com/sandrun/sandrun/internal/driver"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, env *cliEnv, args []string) error
}

// cliEnv is what a subcommand may touch: no globals.
type cliEnv struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// exits says the process exits when the command returns (main; not
	// tests calling Main): a one-shot command may then leave to the exit
	// what costs time only to tidy up (the audit store's close).
	exits bool
}

func commands() map[string]command {
	return map[string]command{
		"run":       {"run a snippet in a sandbox", cmdRun},
		"languages": {"list the languages this host can run, with versions and paths", cmdLanguages},
		"version":   {"print the version", cmdVersion},
		"bench":     {"measure tiers against their baselines in the same run", cmdBench},
		"audit":     {"the run log: audit list, audit show ID, audit prune, audit status", cmdAudit},
		"serve":     {"serve the HTTP API, Piston-compatible routes and MCP (loopback by default)", cmdServe},
		"mcp":       {"serve MCP over stdio (for agents that spawn sandrun)", cmdMCP},
		"token":     {"make a bearer token for serve --token-file", cmdToken},
		"loadtest":  {"drive a running server with N runs at concurrency C and check each output is its own", cmdLoadtest},
		"doctor":    {"explain which tiers, languages and jail layers this host supports, and why not", cmdDoctor},
		"session":   {"create, run in, list and close sessions on a running `sandrun serve`", cmdSession},
		"repl":      {"an interactive sandboxed session (python, javascript) held by this process", cmdRepl},
		"image":     {"build the docker tier's images without a registry (image build LANG)", cmdImage},
		"kube":      {"the kubernetes tier's node helper: kube seccomp-profile [--install DIR]", cmdKube},
	}
}

// usageError is a bad command line; it exits 2. It keeps the error it
// wraps (flag.ErrHelp among them) for errors.Is.
type usageError struct {
	msg string
	err error
}

func (e *usageError) Error() string {
	if e.msg == "" && e.err != nil {
		return e.err.Error()
	}
	return e.msg
}

func (e *usageError) Unwrap() error { return e.err }

// exitError carries a specific exit code out of a subcommand.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() {
	if handled, code := childMain(os.Args); handled {
		os.Exit(code)
	}
	if len(os.Args) > 1 && os.Args[1] == "run" {
		// A one-shot run allocates a few MB and exits: with the default
		// GOGC its first collection fell right after the package inits
		// (~1 ms of CPU for nothing). 400 puts it at 16 MB, beyond what a
		// run without large output reaches; a large one still collects,
		// at five times its live heap.
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, &cliEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, exits: true}, os.Args[1:])
	stop()
	os.Exit(code)
}

// Main runs one command line and returns the exit code.
func Main(ctx context.Context, env *cliEnv, args []string) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(env.stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(env.stderr, "sandrun: unknown command %q\n", args[0])
		printUsage(env.stderr, cmds)
		return 2
	}
	err := c.run(ctx, env, args[1:])
	var ue *usageError
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, flag.ErrHelp):
		return 0 // -h: the flag package printed the usage
	case errors.As(err, &ue):
		fmt.Fprintf(env.stderr, "sandrun %s: %s\n", args[0], ue.Error())
		return 2
	case errors.Is(err, sandrun.ErrBadRequest):
		// A bad value in a request field (a limit flag): the API's 400.
		fmt.Fprintf(env.stderr, "sandrun %s: %v\n", args[0], err)
		return exitRejected
	default:
		fmt.Fprintf(env.stderr, "sandrun %s: %v\n", args[0], err)
		return 1
	}
}

func printUsage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: sandrun COMMAND [flags]\n\ncommands:")
	var names []string
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nrun 'sandrun COMMAND -h' for a command's flags")
}

func cmdVersion(_ context.Context, env *cliEnv, _ []string) error {
	fmt.Fprintln(env.stdout, "sandrun", version)
	return nil
}

// childMain dispatches the hidden re-exec roles (sandrun re-executing
// itself as a jail init or a Starlark runtime). Backends that need a child
// role add a case here; the first argument is "__child" and the second the
// role.
func childMain(args []string) (bool, int) {
	if len(args) < 3 || args[1] != "__child" {
		return false, 0
	}
	switch args[2] {
	case jail.ChildRole:
		return true, jail.ChildMain(args[3:])
	case restricted.RoleWorker, restricted.RoleFile, restricted.RoleProbe:
		return true, restricted.ChildMain(args[2:])
	case driver.RoleStarlark:
		return true, driver.StarlarkMain(args[3:])
	default:
		fmt.Fprintf(os.Stderr, "sandrun: unknown child role %q\n", args[2])
		return true, 70
	}
}
