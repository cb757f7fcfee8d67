package server

import (
	"errors"
	"testing"

	"github.com/sandrun/sandrun"
)

// FuzzDecodeRequest: any body either decodes or gives a DecodeError that
// names a field and a 4xx status; never a panic.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"language":"python","code":"print(1)"}`,
		`{"language":"python","code":"x","limits":{"wall_time":"1s","memory":"1MiB"}}`,
		`{"limits":{"wall_time":5}}`, `{"files":[{"name":"a","content":"b","encoding":"base64"}]}`,
		`{"bogus":1}`, `[]`, `null`, `{"language":5}`, `{"limits":{"memory":"x"}}`, `{} {}`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var req sandrun.Request
		err := unmarshalStrict(data, &req)
		if err == nil {
			return
		}
		var de *DecodeError
		if !errors.As(err, &de) || de.Field == "" || de.Status < 400 || de.Status > 499 {
			t.Fatalf("%q: %#v", data, err)
		}
	})
}
