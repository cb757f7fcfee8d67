package mcputil_test

import (
	"encoding/json"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/mcputil"
)

type in struct {
	Files  []sandrun.InputFile `json:"files,omitempty"`
	Env    map[string]string   `json:"env,omitempty"`
	Limits sandrun.Limits      `json:"limits,omitempty"`
}

// TestInputSchema: lists and maps are plain (not nullable), times and
// sizes need their unit, and the schema refuses what it should.
func TestInputSchema(t *testing.T) {
	s := mcputil.Input[in]()
	if s.Properties["files"].Type != "array" || s.Properties["env"].Type != "object" || s.Properties["files"].Types != nil {
		t.Fatalf("nullable lists or maps: %+v %+v", s.Properties["files"], s.Properties["env"])
	}
	r, err := s.Resolve(nil)
	if err != nil {
		t.Fatal(err)
	}
	for doc, ok := range map[string]bool{
		`{"limits":{"wall_time":"5s","memory":"256MiB","cpu_time":"1m30s","processes":8}}`: true,
		`{"limits":{"wall_time":"500ms","output":"64 KiB"}}`:                               true,
		`{"files":[{"name":"a","content":"x"}],"env":{"A":"b"}}`:                           true,
		`{"limits":{"wall_time":5}}`:                                                       false,
		`{"limits":{"wall_time":"5"}}`:                                                     false,
		`{"limits":{"memory":268435456}}`:                                                  false,
		`{"limits":{"memory":"256"}}`:                                                      false,
		`{"files":null}`:                                                                   false,
		`{"files":"[]"}`:                                                                   false,
		`{"timeout":5}`:                                                                    false,
	} {
		var v any
		_ = json.Unmarshal([]byte(doc), &v)
		if err := r.Validate(v); (err == nil) != ok {
			t.Errorf("%s: valid %v, want %v (%v)", doc, err == nil, ok, err)
		}
	}
}

// TestOutputSchema: a Result as it marshals validates against its
// schema (collected file contents are base64 strings; statuses an enum).
func TestOutputSchema(t *testing.T) {
	r, err := mcputil.Output[sandrun.Result]().Resolve(nil)
	if err != nil {
		t.Fatal(err)
	}
	res := &sandrun.Result{ID: "x", Status: sandrun.StatusOK, Files: []sandrun.OutputFile{{Name: "a", Content: []byte{0, 1}}}}
	res.Finish()
	b, _ := json.Marshal(res)
	var v any
	_ = json.Unmarshal(b, &v)
	if err := r.Validate(v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	res.Status = "bogus"
	b, _ = json.Marshal(res)
	_ = json.Unmarshal(b, &v)
	if r.Validate(v) == nil {
		t.Fatal("an unknown status validated")
	}
}

// TestResultContent: text for the model, then each collected file as an
// embedded resource (text when UTF-8, else a blob).
func TestResultContent(t *testing.T) {
	res := &sandrun.Result{ID: "r1", Status: sandrun.StatusOK, Stdout: "hi\n", Files: []sandrun.OutputFile{
		{Name: "out/a b.txt", Content: []byte("text")}, {Name: "bin", Content: []byte{0, 0xff}},
	}}
	c := mcputil.ResultContent(res)
	if len(c) != 3 {
		t.Fatalf("%d contents", len(c))
	}
	a, b := c[1].(*mcp.EmbeddedResource).Resource, c[2].(*mcp.EmbeddedResource).Resource
	if a.URI != "sandrun://runs/r1/files/out/a%20b.txt" || a.Text != "text" || a.Blob != nil || a.MIMEType != "text/plain; charset=utf-8" {
		t.Errorf("text file %+v", a)
	}
	if b.Text != "" || string(b.Blob) != "\x00\xff" || b.MIMEType != "application/octet-stream" {
		t.Errorf("binary file %+v", b)
	}
}
