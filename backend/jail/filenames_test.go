package jail_test

import (
	"testing"

	"github.com/sandrun/sandrun"
)

// Request file names that Validate accepts but that are not written in
// their clean form ("x//y", "./z", "d/./e") ended as internal_error on
// the jail (the init refuses empty and "." components: "jail layer files
// could not be applied (step 10)"), a 500 for a caller's request that
// every other tier runs. They are written as their clean names, cold and
// warm.
func TestUncleanFileNames(t *testing.T) {
	code := "import os\nfor n in ('x/y', 'z', 'd/e'):\n    print(n, open(n).read())"
	files := func(r *sandrun.Request) {
		r.Files = []sandrun.InputFile{{Name: "x//y", Content: "1"}, {Name: "./z", Content: "2"}, {Name: "d/./e", Content: "3"}}
	}
	for _, c := range []struct {
		name string
		run  func(t *testing.T) *sandrun.Result
	}{
		{"cold", func(t *testing.T) *sandrun.Result { return run(t, backend(t), "python", code, files) }},
		{"warm", func(t *testing.T) *sandrun.Result { return runWarm(t, code, files) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := c.run(t)
			if res.Status != sandrun.StatusOK || res.Stdout != "x/y 1\nz 2\nd/e 3\n" {
				t.Fatalf("status %s error %q stdout %q stderr %q", res.Status, res.Error, res.Stdout, res.Stderr)
			}
		})
	}
}
