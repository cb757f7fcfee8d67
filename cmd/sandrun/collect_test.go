package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
)

// Issue 12 item 9: --collect stopped at 64 files with status ok and no
// flag. The cap is sandrun.MaxCollectFiles; a cut list says so.
func TestCollectTruncationIsReported(t *testing.T) {
	if testing.Short() {
		t.Skip("runs sandboxed programs")
	}
	auditEnv(t)
	for _, backend := range []string{"process", "auto"} {
		for _, n := range []int{sandrun.MaxCollectFiles, sandrun.MaxCollectFiles + 6} {
			code, out, errs := runCLI(t, "", "run", "--lang", "bash", "--backend", backend, "--json", "--collect", "f*",
				"-c", "for i in $(seq "+itoa(n)+"); do echo $i > f$(printf %03d $i); done")
			var res sandrun.Result
			if code != 0 || json.Unmarshal([]byte(out), &res) != nil {
				t.Fatalf("%s, %d files: exit %d %s %s", backend, n, code, out, errs)
			}
			cut := n > sandrun.MaxCollectFiles
			if len(res.Files) != sandrun.MaxCollectFiles || res.FilesTruncated != cut ||
				strings.Contains(strings.Join(res.Warnings, ";"), "more than 64 files") != cut ||
				res.Files[0].Name != "f001" || res.Files[sandrun.MaxCollectFiles-1].Name != "f064" {
				t.Errorf("%s (%s), %d files: %d returned, truncated %v, warnings %q", backend, res.Backend, n, len(res.Files), res.FilesTruncated, res.Warnings)
			}
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
