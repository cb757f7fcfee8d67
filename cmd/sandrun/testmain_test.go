package main

import (
	"context"
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
	os.Exit(m.Run())
}
