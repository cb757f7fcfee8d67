package main

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// TestMain lets the test binary stand in for the sandrun binary, as
// os/exec's helperCommand does: it plays sandrun's child roles (the jail
// init, the Starlark worker and interpreter), since the CLI re-executes
// os.Executable(), and with SANDRUN_TEST_CLI=1 it runs Main on its
// arguments.
func TestMain(m *testing.M) {
	if handled, code := childMain(os.Args); handled {
		os.Exit(code)
	}
	if os.Getenv("SANDRUN_TEST_CLI") == "1" {
		os.Exit(Main(context.Background(), &cliEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:]))
	}
	os.Exit(isolated(m))
}

// isolated runs the tests with the audit log (and any other state under
// XDG_STATE_HOME) in a temporary directory: commands the tests run must
// never write into the real ~/.local/state/sandrun/audit.db, nor into a
// log an operator's SANDRUN_AUDIT_PATH or _DSN names. Tests that test
// that configuration set it themselves (t.Setenv).
func isolated(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sandrun-cmd-test-state-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	os.Setenv("XDG_STATE_HOME", dir)
	for _, k := range []string{"SANDRUN_AUDIT_PATH", "SANDRUN_AUDIT_DSN"} {
		os.Unsetenv(k)
	}
	return m.Run()
}
