package gvisor

import (
	"strings"
	"testing"

	"github.com/sandrun/sandrun/lang"
)

// TestAbsentRunsc: a missing runsc is not an error of the constructor;
// Check says why.
func TestAbsentRunsc(t *testing.T) {
	b := New(Options{Languages: lang.NewRegistry(lang.Options{}), Runsc: "/nonexistent/runsc"})
	err := b.Check(t.Context(), "python")
	if err == nil || !(strings.Contains(err.Error(), "runsc is not installed") || strings.Contains(err.Error(), "needs root")) {
		t.Fatalf("Check = %v", err)
	}
	if d := b.Diagnose(t.Context()); len(d) != 1 || d[0].OK {
		t.Fatalf("Diagnose = %+v", d)
	}
}

func TestDeadOwner(t *testing.T) {
	for id, want := range map[string]bool{
		"sandrun-1-abc":       false, // pid 1 lives
		"sandrun-4194303-abc": true,
		"other-4194303-abc":   false,
		"sandrun-x-abc":       false,
		"sandrun-4194303":     false,
	} {
		if got := deadOwner(id); got != want {
			t.Errorf("deadOwner(%q) = %v, want %v", id, got, want)
		}
	}
}
