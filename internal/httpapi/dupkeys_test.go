package httpapi

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/sandrun/sandrun"
)

type dupFile struct {
	Name    string `json:"name"`
	Content string `json:"content"`
}

type dupReq struct {
	Language string            `json:"language"`
	Backend  string            `json:"backend"`
	Stdin    string            `json:"stdin"`
	Env      map[string]string `json:"env"`
	Files    []dupFile         `json:"files"`
	Limits   struct {
		Memory string `json:"memory"`
	} `json:"limits"`
	Extra json.RawMessage `json:"extra"`
}

// Issue 12 item 8's "never a silent change", for what encoding/json does
// with a member named twice: the last wins, and a struct's fields match
// without regard to case.
func TestDuplicateKeys(t *testing.T) {
	for in, field := range map[string]string{
		`{"language":"python","language":"bash"}`:                        "language",
		`{"backend":"jail","Backend":"process"}`:                         "Backend",
		`{"limits":{"memory":"1GiB","MEMORY":"64MiB"}}`:                  "limits.MEMORY",
		`{"files":[{"name":"a"},{"name":"b","content":"x","name":"c"}]}`: "files[].name",
		`{"env":{"A":"1","A":"2"}}`:                                      "env.A",
		`{"ſtdin":"x","stdin":"y"}`:                                      "stdin", // U+017F folds to s
		`{"extra":{"k":1,"k":2}}`:                                        "extra.k",
	} {
		var e *DecodeError
		if err := checkDuplicateKeys([]byte(in), &dupReq{}); !errors.As(err, &e) || e.Field != field {
			t.Errorf("%s: %v, want a bad request naming %s", in, err, field)
		}
	}
	for _, ok := range []string{
		`{"language":"python","files":[{"name":"a"},{"name":"b"}],"limits":{"memory":"1GiB"}}`,
		`{"env":{"A":"1","a":"2"}}`, // two variables
		`{"extra":{"k":1,"K":2}}`,   // decoded as it is: only the same name twice counts
		`[1,2,{"a":1}]`, `"s"`, `{}`, `{bad json`,
	} {
		if err := checkDuplicateKeys([]byte(ok), &dupReq{}); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

// BenchmarkUnmarshalRun is the strict decoding of a run's request as the
// server receives it (the served path's decode stage).
func BenchmarkUnmarshalRun(b *testing.B) {
	body := []byte(`{"language":"python","code":"print(1)","limits":{},"backend":"restricted"}`)
	b.ReportAllocs()
	for b.Loop() {
		var r sandrun.Request
		if err := Unmarshal(body, &r); err != nil {
			b.Fatal(err)
		}
	}
}
