package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 12 item 8 (and 4, on the command line): bad input is refused
// with exit 64 naming the field, never run, never changed silently.
func TestBadInputExits64(t *testing.T) {
	auditEnv(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.WriteFile(data, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args  []string
		field string
	}{
		{[]string{"--memory", "lots"}, "limits.memory"},
		{[]string{"--timeout", "-5s"}, "limits.wall_time"},
		{[]string{"--open-files", "0"}, "limits.open_files"},
		{[]string{"--processes", "-3"}, "limits.processes"},
		{[]string{"--max-loops", "-1"}, "max_loops"},
		// Over what this host has for one run (or sandrun's maximum).
		{[]string{"--memory", "64GiB"}, "limits.memory"},
		{[]string{"--open-files", "10000000"}, "limits.open_files"},
		// A language tier restricted cannot run: a 4xx about the backend
		// field, not "unavailable" (it runs starlark, and python under
		// its policy).
		{[]string{"--backend", "restricted", "--lang", "javascript"}, "backend"},
		// A file named like the code's own file would replace it.
		{[]string{"--file", "main.py=" + data}, "files[0].name"},
		// A file that is another file's directory.
		{[]string{"--file", "a=" + data, "--file", "a/b=" + data}, "files[1].name"},
		{[]string{"--file", "big=" + data, "--workdir-size", "1MiB", "--file", "big2=" + data}, ""},
	} {
		args := append([]string{"run", "--lang", "python", "-c", "print('ran')"}, c.args...)
		code, out, errs := runCLI(t, "", args...)
		if c.field == "" { // the control: a valid request runs
			if code != 0 || out != "ran\n" {
				t.Errorf("%q: code %d out %q err %q", c.args, code, out, errs)
			}
			continue
		}
		if code != exitRejected || out != "" || !strings.Contains(errs, c.field+":") {
			t.Errorf("%q: code %d out %q err %q; want exit %d naming %s", c.args, code, out, errs, exitRejected, c.field)
		}
	}
}
