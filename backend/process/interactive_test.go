package process_test

import (
	"context"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/interactivetest"
)

// TestInteractive: Request.Input reaches the program as it comes, and
// Request.Signals reach its process group.
func TestInteractive(t *testing.T) {
	needLang(t, "bash")
	sb, _ := newSandbox(t)
	interactivetest.Check(t, func(t *testing.T, req *sandrun.Request) *sandrun.Result {
		req.Backend = "process"
		res, err := sb.Run(context.Background(), req)
		if err != nil {
			t.Fatalf("Run: %v (%s)", err, res.Error)
		}
		return res
	})
}
