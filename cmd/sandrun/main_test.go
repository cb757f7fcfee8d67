package main

import (
	"os"
	"testing"
)

// TestMain lets the test binary play sandrun's child roles (the Starlark
// worker and interpreter), since the CLI re-executes os.Executable().
func TestMain(m *testing.M) {
	if handled, code := childMain(os.Args); handled {
		os.Exit(code)
	}
	os.Exit(m.Run())
}
