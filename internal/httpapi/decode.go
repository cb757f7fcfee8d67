package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
)

// DecodeError is a request body the server could not take: it names the
// field (or "body") and gets a 400, or a 413 when the body is too large.
type DecodeError struct {
	Status int
	Field  string
	Msg    string
}

func (e *DecodeError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// Decode reads one JSON value from r's body into v, strictly: the
// content type must be JSON, unknown fields are refused, a second value
// after the first is refused, and the body is capped at limit bytes.
//
// Requiring application/json is also a CSRF defence: a browser cannot
// send it cross-origin without a preflight (and CrossOriginProtection
// refuses cross-origin posts on top). textOK admits text/plain too, for
// Piston clients that send JSON without a content type.
func Decode(w http.ResponseWriter, r *http.Request, limit int64, v any, textOK bool) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json") && !(textOK && mt == "text/plain")) {
			return &DecodeError{Status: http.StatusUnsupportedMediaType, Field: "body",
				Msg: fmt.Sprintf("Content-Type %q is not application/json", ct)}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &DecodeError{Status: http.StatusRequestEntityTooLarge, Field: "body",
				Msg: fmt.Sprintf("is larger than the %d-byte limit", limit)}
		}
		return &DecodeError{Status: http.StatusBadRequest, Field: "body", Msg: "could not be read: " + err.Error()}
	}
	return Unmarshal(body, v)
}

// Unmarshal decodes data into v, refusing unknown fields, trailing data
// and text that is not UTF-8 (encoding/json would replace it with U+FFFD
// without a word), and turns encoding/json's errors into ones that name
// the field.
func Unmarshal(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return &DecodeError{Status: http.StatusBadRequest, Field: "body", Msg: "is empty; want a JSON object"}
	}
	if err := checkUTF8(data); err != nil {
		return err
	}
	if err := checkDuplicateKeys(data, v); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fieldError(data, v, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &DecodeError{Status: http.StatusBadRequest, Field: "body", Msg: "has data after the JSON object"}
	}
	return nil
}

func fieldError(data []byte, v any, err error) error {
	bad := func(field, msg string) error {
		return &DecodeError{Status: http.StatusBadRequest, Field: field, Msg: msg}
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return bad("body", fmt.Sprintf("is not valid JSON at byte %d: %v", syn.Offset, syn))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return bad("body", "is not valid JSON: it ends too early")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return bad(field, fmt.Sprintf("must be %s, not JSON %s", jsonKind(typ.Type), typ.Value))
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, `json: unknown field "`); ok {
		name = strings.TrimSuffix(name, `"`)
		if name == "" {
			return bad("body", "has a member with an empty name")
		}
		return bad(name, "is not a known field")
	}
	// A field's own decoder (a duration, a size) failed; encoding/json does
	// not say which one, so find it by decoding the fields one by one.
	if f := findBadField(data, reflect.TypeOf(v), ""); f != "" {
		return bad(f, strings.TrimPrefix(msg, "json: "))
	}
	return bad("body", strings.TrimPrefix(msg, "json: "))
}

// findBadField decodes each member of the JSON object data into the
// matching field of struct type t and returns the dotted path of the
// first that fails.
func findBadField(data []byte, t reflect.Type, prefix string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return ""
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) != nil {
		return ""
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := jsonName(f)
		raw, ok := obj[name]
		if name == "" || !ok {
			continue
		}
		if json.Unmarshal(raw, reflect.New(f.Type).Interface()) != nil {
			if sub := findBadField(raw, f.Type, prefix+name+"."); sub != "" {
				return sub
			}
			return prefix + name
		}
	}
	return ""
}

// jsonName is the JSON member name of a struct field, "" when it is not
// serialized.
func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return ""
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	return name
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}
