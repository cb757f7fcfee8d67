package restricted_test

import (
	"os"
	"testing"

	"github.com/sandrun/sandrun/backend/restricted"
)

// TestMain lets the test binary serve as the worker: the backend
// re-executes os.Args[0] as "__child starlark", as the sandrun binary
// does in production (os/exec's helperCommand pattern).
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "__child" && restricted.IsRole(os.Args[2]) {
		os.Exit(restricted.ChildMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}
