package sandrun_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
)

func TestResultJSONKeepsBinaryOutput(t *testing.T) {
	bin := "\x00\xff\xfe\x1b[8m\x80"
	for _, in := range []sandrun.Result{
		{Stdout: bin, Stderr: "plain ✓\n"},
		{Stdout: "plain\n", Stderr: bin},
	} {
		for _, v := range []any{in, &in} { // value and pointer marshal alike
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), `\ufffd`) {
				t.Fatalf("replacement characters in %s", b)
			}
			var out sandrun.Result
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatal(err)
			}
			so, err1 := out.StdoutBytes()
			se, err2 := out.StderrBytes()
			if err1 != nil || err2 != nil || !bytes.Equal(so, []byte(in.Stdout)) || !bytes.Equal(se, []byte(in.Stderr)) {
				t.Fatalf("round trip: %q %q (%v %v) from %s", so, se, err1, err2, b)
			}
			// Text stays text; only the binary stream is flagged.
			if (in.Stdout == bin) != (out.StdoutEncoding == sandrun.EncodingBase64) ||
				(in.Stderr == bin) != (out.StderrEncoding == sandrun.EncodingBase64) {
				t.Fatalf("encodings %q %q from %s", out.StdoutEncoding, out.StderrEncoding, b)
			}
			// A value that came from JSON goes out again unchanged.
			again, _ := json.Marshal(out)
			if !bytes.Equal(again, b) {
				t.Fatalf("re-encoded:\n%s\nwant\n%s", again, b)
			}
		}
	}
	bad := sandrun.Result{Stdout: "!!", StdoutEncoding: "base64"}
	if _, err := bad.StdoutBytes(); err == nil {
		t.Fatal("bad base64 decoded")
	}
	if _, err := (&sandrun.Result{StderrEncoding: "rot13"}).StderrBytes(); err == nil {
		t.Fatal("unknown encoding decoded")
	}
}
