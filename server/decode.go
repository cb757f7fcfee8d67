package server

import (
	"net/http"

	"github.com/sandrun/sandrun/internal/httpapi"
)

// The error body, decoding and writing are shared with the session routes
// (internal/httpapi), so every route answers errors in one shape.

// ErrorBody is every error answer's shape: {error, code, field, errors}.
type ErrorBody = httpapi.ErrorBody

// FieldError is one problem with one field.
type FieldError = httpapi.FieldError

// DecodeError is a request body the server could not take: it names the
// field (or "body") and gets a 400, 413 or 415.
type DecodeError = httpapi.DecodeError

// decodeJSON reads one JSON value from r's body into v, strictly (see
// httpapi.Decode). textOK admits text/plain too, for Piston clients that
// send JSON without a content type.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any, textOK bool) error {
	return httpapi.Decode(w, r, limit, v, textOK)
}

// unmarshalStrict decodes data into v (see httpapi.Unmarshal).
func unmarshalStrict(data []byte, v any) error { return httpapi.Unmarshal(data, v) }

func writeJSON(w http.ResponseWriter, status int, v any) { httpapi.WriteJSON(w, status, v) }

func writeError(w http.ResponseWriter, status int, field, msg string) {
	httpapi.WriteError(w, status, "", field, msg)
}

func writeDecodeError(w http.ResponseWriter, err error) { httpapi.WriteDecodeError(w, err) }
