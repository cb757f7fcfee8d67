package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/server"
	"github.com/sandrun/sandrun/session"
	"github.com/sandrun/sandrun/session/sessionhttp"
)

func loadDoc(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(server.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI 3 document: %v", err)
	}
	return doc
}

// TestOpenAPIRoutes: every route the mux serves is documented and every
// documented operation is served.
func TestOpenAPIRoutes(t *testing.T) {
	doc := loadDoc(t)
	e := newEnv(t, func(o *server.Options) { o.MCP = true; withSessions(t)(o) })
	served := map[string]bool{}
	for _, p := range e.srv.Routes() {
		method, path, ok := strings.Cut(p, " ")
		if !ok { // a pattern for every method: /mcp
			path = p
			for _, m := range []string{"GET", "POST", "DELETE"} {
				served[m+" "+path] = true
			}
			continue
		}
		served[method+" "+path] = true
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	for k := range served {
		if !documented[k] {
			t.Errorf("%s is served but not documented", k)
		}
	}
	for k := range documented {
		if !served[k] {
			t.Errorf("%s is documented but not served", k)
		}
	}
}

// schemaTypes maps every component schema to the Go type it describes.
// Status is not a struct: checked separately.
var schemaTypes = map[string]reflect.Type{
	"Request":            reflect.TypeFor[sandrun.Request](),
	"InputFile":          reflect.TypeFor[sandrun.InputFile](),
	"Limits":             reflect.TypeFor[sandrun.Limits](),
	"Result":             reflect.TypeFor[sandrun.Result](),
	"Usage":              reflect.TypeFor[sandrun.Usage](),
	"Detection":          reflect.TypeFor[sandrun.Detection](),
	"OutputFile":         reflect.TypeFor[sandrun.OutputFile](),
	"Display":            reflect.TypeFor[sandrun.Display](),
	"ErrorBody":          reflect.TypeFor[server.ErrorBody](),
	"FieldError":         reflect.TypeFor[server.FieldError](),
	"LanguagesBody":      reflect.TypeFor[server.LanguagesBody](),
	"LanguageInfo":       reflect.TypeFor[server.LanguageInfo](),
	"ChunkEvent":         reflect.TypeFor[server.ChunkEvent](),
	"DroppedEvent":       reflect.TypeFor[server.DroppedEvent](),
	"PistonFile":         reflect.TypeFor[server.PistonFile](),
	"PistonRequest":      reflect.TypeFor[server.PistonRequest](),
	"PistonStage":        reflect.TypeFor[server.PistonStage](),
	"PistonResponse":     reflect.TypeFor[server.PistonResponse](),
	"PistonRuntime":      reflect.TypeFor[server.PistonRuntime](),
	"PistonError":        reflect.TypeFor[server.PistonError](),
	"PistonPackage":      reflect.TypeFor[server.PistonPackage](),
	"RunList":            reflect.TypeFor[server.RunList](),
	"StatusBody":         reflect.TypeFor[server.StatusBody](),
	"AuditStatus":        reflect.TypeFor[server.AuditStatus](),
	"WarmStatus":         reflect.TypeFor[sandrun.WarmStatus](),
	"NetworkPolicy":      reflect.TypeFor[sandrun.NetworkPolicy](),
	"NetworkRule":        reflect.TypeFor[sandrun.NetworkRule](),
	"NetworkLimits":      reflect.TypeFor[sandrun.NetworkLimits](),
	"NetworkUsage":       reflect.TypeFor[sandrun.NetworkUsage](),
	"NetworkDestination": reflect.TypeFor[sandrun.NetworkDestination](),
	"Probe":              reflect.TypeFor[server.Probe](),
	"SessionSpec":        reflect.TypeFor[session.Spec](),
	"SessionInfo":        reflect.TypeFor[session.Info](),
	"SessionRunRequest":  reflect.TypeFor[session.RunRequest](),
	"SessionList":        reflect.TypeFor[sessionhttp.ListBody](),
}

func jsonFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		out[name] = f
	}
	return out
}

// TestOpenAPISchemas: each schema has exactly the JSON fields of its Go
// type, nested objects point at the schema of the nested type, required
// lists only real fields, and the Status enum is the library's.
func TestOpenAPISchemas(t *testing.T) {
	doc := loadDoc(t)
	nameOf := map[reflect.Type]string{}
	for n, ty := range schemaTypes {
		nameOf[ty] = n
	}
	for name, sref := range doc.Components.Schemas {
		if name == "Status" {
			continue
		}
		ty, ok := schemaTypes[name]
		if !ok {
			t.Errorf("schema %s describes no Go type", name)
			continue
		}
		s := sref.Value
		fields := jsonFields(ty)
		var props, goNames []string
		for p := range s.Properties {
			props = append(props, p)
		}
		for n := range fields {
			goNames = append(goNames, n)
		}
		sort.Strings(props)
		sort.Strings(goNames)
		if !slices.Equal(props, goNames) {
			t.Errorf("schema %s has %v; %v has %v", name, props, ty, goNames)
		}
		for _, r := range s.Required {
			if _, ok := fields[r]; !ok {
				t.Errorf("schema %s requires %q, which %v lacks", name, r, ty)
			}
		}
		for p, f := range fields {
			ps := s.Properties[p]
			if ps == nil {
				continue
			}
			ft := f.Type
			ref := ps.Ref
			if ref == "" && ps.Value != nil {
				// A field with two forms (network: a string or an
				// object) refers to its object schema in a oneOf.
				for _, o := range ps.Value.OneOf {
					if o.Ref != "" {
						ref = o.Ref
					}
				}
			}
			if ft.Kind() == reflect.Slice && ps.Value.Items != nil {
				ft, ref = ft.Elem(), ps.Value.Items.Ref
			}
			if want, ok := nameOf[ft]; ok && !strings.HasSuffix(ref, "/"+want) {
				t.Errorf("schema %s.%s refers to %q, want %s", name, p, ref, want)
			}
		}
	}
	var enum []string
	for _, v := range doc.Components.Schemas["Status"].Value.Enum {
		enum = append(enum, v.(string))
	}
	var want []string
	for _, s := range sandrun.AllStatuses() {
		want = append(want, string(s))
	}
	if !slices.Equal(enum, want) {
		t.Errorf("Status enum %v, want %v", enum, want)
	}
}

// TestOpenAPIResponses sends real requests, good and bad, to every route
// and validates each answer (status code, headers, body) against the
// document.
func TestOpenAPIResponses(t *testing.T) {
	doc := loadDoc(t)
	doc.Servers = nil // match any host
	// The stream is text to the validator; checkEvents checks each event.
	openapi3filter.RegisterBodyDecoder("text/event-stream", func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(r)
		return string(b), err
	})
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "sr_openapi-test-secret-0123456789"
	e := newEnv(t, func(o *server.Options) {
		o.Auth = tokenAuth(t, secret)
		o.MaxBodyBytes = 1 << 20
		o.Runs = &listStore{fakeStore: fakeStore{"abc": {ID: "abc", Status: sandrun.StatusOK, Detections: []sandrun.Detection{}}}}
		o.Audit = fakeAudit{n: 2, err: errors.New("disk full")}
		withSessions(t)(o)
	})
	// A live session and a dead one for the session routes.
	newSession := func() string {
		r := e.do(t, "POST", "/v1/sessions", secret, strings.NewReader(`{"language":"python"}`))
		var in session.Info
		r.json(t, &in)
		if r.code != 201 || in.ID == "" {
			t.Fatalf("creating a session: %d %s", r.code, r.body)
		}
		return in.ID
	}
	sid, dead := newSession(), newSession()
	if r := e.do(t, "POST", "/v1/sessions/"+dead+"/run", secret, strings.NewReader(`{"code":"import os\nos._exit(3)"}`)); r.code != 200 {
		t.Fatalf("killing a session: %d %s", r.code, r.body)
	}
	type call struct {
		method, path, body, ctype, accept string
		noToken                           bool
		want                              int
	}
	ok := `{"language":"python","code":"print(1)"}`
	calls := []call{
		{method: "GET", path: "/healthz", want: 200},
		{method: "GET", path: "/readyz", want: 200},
		{method: "GET", path: "/openapi.json", want: 200},
		{method: "GET", path: "/metrics", want: 200},
		{method: "GET", path: "/metrics", noToken: true, want: 401},
		{method: "GET", path: "/v1/languages", want: 200},
		{method: "GET", path: "/v1/runs/abc", want: 200},
		{method: "GET", path: "/v1/runs/zzz", want: 404},
		{method: "GET", path: "/v1/runs?status=ok&limit=10", want: 200},
		{method: "GET", path: "/v1/runs?since=yesterday", want: 400},
		{method: "GET", path: "/v1/runs", noToken: true, want: 401},
		{method: "GET", path: "/v1/status", want: 200},
		{method: "POST", path: "/v1/runs", body: ok, want: 200},
		{method: "POST", path: "/v1/runs", body: `{"language":"python","code":"import sys\nsys.exit(2)","limits":{"wall_time":"5s","memory":"128MiB"}}`, want: 200},
		{method: "POST", path: "/v1/runs", body: ok, accept: "text/event-stream", want: 200},
		{method: "POST", path: "/v1/runs", body: `{"language":`, want: 400},
		{method: "POST", path: "/v1/runs", body: `{"language":"python","code":"x","nope":1}`, want: 400},
		{method: "POST", path: "/v1/runs", body: `{"language":"cobol","code":"x"}`, want: 400},
		{method: "POST", path: "/v1/runs", body: `{"language":"python","code":"` + strings.Repeat("x", 2<<20) + `"}`, want: 413},
		{method: "POST", path: "/v1/runs", body: ok, ctype: "text/plain", want: 415},
		{method: "POST", path: "/v1/runs", body: ok, noToken: true, want: 401},
		{method: "GET", path: "/api/v2/runtimes", want: 200},
		{method: "POST", path: "/api/v2/execute", body: `{"language":"python","version":"*","files":[{"content":"print(2)"}]}`, want: 200},
		{method: "POST", path: "/api/v2/execute", body: `{"language":"python","version":"*","files":[{"content":"import sys; sys.exit(1)"}]}`, want: 200},
		{method: "POST", path: "/api/v2/execute", body: `{"language":"python","version":"0.0.1","files":[{"content":"x"}]}`, want: 400},
		{method: "POST", path: "/api/v2/execute", body: `{"language":"python"}`, want: 400},
		{method: "POST", path: "/api/v2/execute", body: `{"language":"python","version":"*","files":[{"content":"print(2)"}]}`, ctype: "text/plain", want: 415},
		{method: "POST", path: "/api/v2/execute", body: `{"language":"python","version":"*","files":[{"content":"print(2)"}]}`, noToken: true, want: 401},
		{method: "GET", path: "/api/v2/packages", want: 200},
		{method: "GET", path: "/api/v2/connect", want: 426},
		{method: "POST", path: "/v1/sessions", body: `{"language":"python","limits":{"memory":"1GiB","wall_time":"1h"}}`, want: 400},
		{method: "POST", path: "/v1/sessions", body: `{"language":"cobol"}`, want: 400},
		{method: "POST", path: "/v1/sessions", body: `{"language":"python"}`, noToken: true, want: 401},
		{method: "GET", path: "/v1/sessions", want: 200},
		{method: "GET", path: "/v1/sessions/" + sid, want: 200},
		{method: "GET", path: "/v1/sessions/nope", want: 404},
		{method: "POST", path: "/v1/sessions/" + sid + "/run", body: `{"code":"x = 1\nprint(x)","limits":{"wall_time":"2s","output":"64KiB"}}`, want: 200},
		{method: "POST", path: "/v1/sessions/" + sid + "/run", body: `{"code":"print(1)","limits":{"memory":"1GiB"}}`, want: 400},
		{method: "POST", path: "/v1/sessions/" + sid + "/run", body: `{"code":"print(1)","bogus":1}`, want: 400},
		{method: "POST", path: "/v1/sessions/" + sid + "/run", body: `{"code":"` + strings.Repeat("x", 2<<20) + `"}`, want: 413},
		{method: "POST", path: "/v1/sessions/" + sid + "/run", body: `{"code":"print(1)"}`, ctype: "text/plain", want: 415},
		{method: "POST", path: "/v1/sessions/" + dead + "/run", body: `{"code":"print(1)"}`, want: 409},
		{method: "POST", path: "/v1/sessions/nope/run", body: `{"code":"print(1)"}`, want: 404},
		{method: "DELETE", path: "/v1/sessions/" + sid, want: 200},
		{method: "DELETE", path: "/v1/sessions/nope", want: 404},
	}
	for _, c := range calls {
		req := httptest.NewRequest(c.method, e.url+c.path, strings.NewReader(c.body))
		req.RequestURI = ""
		if c.body != "" {
			ct := c.ctype
			if ct == "" {
				ct = "application/json"
			}
			req.Header.Set("Content-Type", ct)
		}
		if c.accept != "" {
			req.Header.Set("Accept", c.accept)
		}
		if !c.noToken {
			req.Header.Set("Authorization", "Bearer "+secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		name := c.method + " " + c.path + " -> " + resp.Status
		if resp.StatusCode != c.want {
			t.Errorf("%s: want %d (%s)", name, c.want, body)
			continue
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Errorf("%s: not in the document: %v", name, err)
			continue
		}
		in := &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true},
		}
		out := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
			Body: io.NopCloser(bytes.NewReader(body)), Options: in.Options,
		}
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			checkEvents(t, doc, name, body)
		}
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Errorf("%s: answer does not match the document: %v\nbody: %.300s", name, err, body)
		}
	}
}

// checkEvents validates each server-sent event's data against the schema
// the document names for it.
func checkEvents(t *testing.T, doc *openapi3.T, name string, body []byte) {
	t.Helper()
	schemaFor := map[string]string{"stdout": "ChunkEvent", "stderr": "ChunkEvent", "dropped": "DroppedEvent", "display": "Display", "result": "Result"}
	var last string
	for _, block := range strings.Split(strings.TrimSpace(string(body)), "\n\n") {
		ev, data, _ := strings.Cut(block, "\n")
		ev = strings.TrimPrefix(ev, "event: ")
		data = strings.TrimPrefix(data, "data: ")
		sch, ok := schemaFor[ev]
		if !ok {
			t.Errorf("%s: undocumented event %q", name, ev)
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			t.Errorf("%s: event %s data %q: %v", name, ev, data, err)
			continue
		}
		if err := doc.Components.Schemas[sch].Value.VisitJSON(v); err != nil {
			t.Errorf("%s: event %s does not match %s: %v", name, ev, sch, err)
		}
		last = ev
	}
	if last != "result" {
		t.Errorf("%s: the stream did not end with a result event", name)
	}
}
