package driver

import (
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// A Starlark memory bomb is stopped by the heap check near the limit,
// with the memory reason, and ordinary code runs to its end.
func TestHeapCheck(t *testing.T) {
	opts := &syntax.FileOptions{While: true, GlobalReassign: true, TopLevelControl: true}
	run := func(code string) error {
		th := &starlark.Thread{}
		newHeapCheck(64 << 20).install(th)
		_, err := starlark.ExecFileOptions(opts, th, "t.star", code, nil)
		return err
	}
	err := run("x = []\nwhile True:\n    x.append('a' * 100000)")
	if err == nil || !strings.Contains(err.Error(), memCancel) {
		t.Fatalf("bomb: %v", err)
	}
	if err := run("n = 0\nfor i in range(200000):\n    n += i\ns = ['x'] * 1000"); err != nil {
		t.Fatalf("ordinary code: %v", err)
	}
}
