// Package mcputil is what the MCP tools of the server (run_code,
// list_languages) and of sessions (session_*) share: their JSON schemas,
// derived from the Go types with the units sandrun's limits take, and the
// content a tool result carries (a text for the model, collected files as
// embedded resources).
package mcputil

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/httpapi"
)

// Times and sizes in MCP arguments are strings that carry their unit
// ("10s", "500ms", "256MiB"): one vocabulary with the REST API's limits
// object, and no bare number that a model could mean in seconds and the
// server read in milliseconds. The schemas say so, so a bare number is
// refused by the SDK's validation naming the field, before any handler.
const (
	durationPattern = `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	sizePattern     = `^[0-9]+(\.[0-9]+)? ?(B|KiB|MiB|GiB|TiB|kB|KB|MB|GB|K|M|G)$`
)

var (
	durationIn = &jsonschema.Schema{Type: "string", Pattern: durationPattern,
		Description: `a duration with its unit, such as "10s", "500ms" or "2m" (a bare number is refused)`}
	sizeIn = &jsonschema.Schema{Type: "string", Pattern: sizePattern,
		Description: `a size with its unit, such as "256MiB", "64KiB" or "1GiB" (a bare number is refused)`}
	networkIn = networkSchema(sizeIn)
)

// networkSchema describes a network policy (sandrun.NetworkPolicy): the
// string form or the object, its byte limits as bytes describes them
// (strings with units in, numbers out); the syntax checks do the rest
// and name the field.
func networkSchema(bytes *jsonschema.Schema) *jsonschema.Schema {
	return &jsonschema.Schema{
		Description: `what the code may reach: "none" (default: no network at all) or "allow:HOST:PORT[,HOST:PORT...]" ` +
			`(HOST: a name, *.domain, or a CIDR; the code gets HTTP_PROXY and HTTPS_PROXY and reaches nothing else), ` +
			`or {"allow": [{"host": "pypi.org", "ports": [443]}], "limits": {"bytes_down": "64MiB", "connections": 32}}; ` +
			`only within what the operator permits (docs/guide/network.md)`,
		OneOf: []*jsonschema.Schema{
			{Type: "string"},
			{Type: "object", Properties: map[string]*jsonschema.Schema{
				"allow": {Type: "array", Items: &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{
					"host":  {Type: "string"},
					"cidr":  {Type: "string"},
					"ports": {Type: "array", Items: &jsonschema.Schema{Types: []string{"integer", "string"}}},
				}}},
				"limits": {Type: "object", Properties: map[string]*jsonschema.Schema{
					"bytes_up": bytes, "bytes_down": bytes, "connections": {Type: "integer"},
				}},
			}},
		},
	}
}

// limitDocs describe the limits object's fields (the same object as the
// REST API's limits).
var limitDocs = map[string]string{
	"wall_time":  `wall-clock time of the program, e.g. "10s" (default 10s)`,
	"cpu_time":   `CPU time, e.g. "5s" (default 5s)`,
	"memory":     `memory, e.g. "256MiB" (default 256MiB)`,
	"processes":  "processes and threads (default 64)",
	"open_files": "open files (default 256)",
	"file_size":  `largest file the program may write, e.g. "16MiB"`,
	"output":     `stdout and stderr cap, each, e.g. "1MiB"; past it the run ends with output_limit`,
	"work_dir":   `size of the work directory, e.g. "64MiB"`,
}

// Input returns the input schema of T: inferred from its fields, with
// durations and sizes as strings with units, the limits object's fields
// described, and lists and maps as plain arrays and objects (the
// inferred ["null","array"] is refused by some function-calling schemas
// and sent as a string by some clients). It panics on a type it cannot
// describe: the tools' types are static.
func Input[T any]() *jsonschema.Schema {
	s, err := jsonschema.For[T](&jsonschema.ForOptions{TypeSchemas: map[reflect.Type]*jsonschema.Schema{
		reflect.TypeFor[sandrun.Duration]():      durationIn,
		reflect.TypeFor[sandrun.Bytes]():         sizeIn,
		reflect.TypeFor[sandrun.NetworkPolicy](): networkIn,
	}})
	if err != nil {
		panic(fmt.Sprintf("mcputil: input schema of %v: %v", reflect.TypeFor[T](), err))
	}
	plain(s)
	return s
}

// Output returns the output schema of T: how its values marshal
// (durations as strings such as "10s", sizes as numbers of bytes, times
// as RFC 3339 strings).
func Output[T any]() *jsonschema.Schema {
	s, err := jsonschema.For[T](&jsonschema.ForOptions{TypeSchemas: map[reflect.Type]*jsonschema.Schema{
		reflect.TypeFor[sandrun.Duration]():      {Type: "string", Description: `a duration such as "10s"`},
		reflect.TypeFor[sandrun.Bytes]():         {Type: "integer", Description: "bytes"},
		reflect.TypeFor[time.Time]():             {Type: "string", Format: "date-time"},
		reflect.TypeFor[[]byte]():                {Types: []string{"null", "string"}, Description: "base64"},
		reflect.TypeFor[sandrun.Status]():        {Type: "string", Enum: statuses()},
		reflect.TypeFor[sandrun.NetworkPolicy](): networkSchema(&jsonschema.Schema{Type: "integer", Description: "bytes"}),
	}})
	if err != nil {
		panic(fmt.Sprintf("mcputil: output schema of %v: %v", reflect.TypeFor[T](), err))
	}
	return s
}

func statuses() []any {
	var out []any
	for _, st := range sandrun.AllStatuses() {
		out = append(out, string(st))
	}
	return out
}

// plain makes nullable arrays and objects plain, and describes the
// limits object's fields, throughout s.
func plain(s *jsonschema.Schema) {
	if s == nil {
		return
	}
	if len(s.Types) == 2 && s.Types[0] == "null" {
		s.Type, s.Types = s.Types[1], nil
	}
	for name, p := range s.Properties {
		if name == "limits" {
			p.Description = "the same limits object as the REST API's (POST /v1/runs): times and sizes with their units"
			for f, d := range limitDocs {
				if fp := p.Properties[f]; fp != nil {
					fp.Description = d
				}
			}
		}
		plain(p)
	}
	plain(s.Items)
	plain(s.AdditionalProperties)
}

// Describe sets the description of s's property name (a field the Go
// type cannot document itself).
func Describe(s *jsonschema.Schema, name, desc string) {
	if p := s.Properties[name]; p != nil {
		p.Description = desc
	}
}

// CheckText refuses arguments whose strings are not valid UTF-8 (raw
// invalid bytes, or \u escapes of lone surrogates), naming the field, as
// the REST API does: decoding would replace them with U+FFFD without a
// word and change the caller's code, stdin or file names. It reads the
// raw arguments of the call, before the SDK's decoding is used.
func CheckText(raw json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	var m map[string]json.RawMessage
	err := httpapi.Unmarshal(raw, &m)
	var de *httpapi.DecodeError
	if errors.As(err, &de) && strings.Contains(de.Msg, "UTF-8") {
		return &sandrun.RequestError{Field: de.Field, Msg: de.Msg}
	}
	return nil
}
