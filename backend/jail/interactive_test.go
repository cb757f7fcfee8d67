//go:build linux

package jail_test

import (
	"context"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/interactivetest"
)

// TestInteractive: Request.Input reaches the jailed program as it comes,
// and Request.Signals reach it through the init.
func TestInteractive(t *testing.T) {
	b := backend(t)
	sb, err := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{b}})
	if err != nil {
		t.Fatal(err)
	}
	interactivetest.Check(t, func(t *testing.T, req *sandrun.Request) *sandrun.Result {
		res, err := sb.Run(context.Background(), req)
		if err != nil {
			t.Fatalf("Run: %v (%s)", err, res.Error)
		}
		return res
	})
}
