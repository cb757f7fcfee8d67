// Package httpapi is what sandrun's HTTP transports share: the one error
// body every route answers with, strict JSON decoding that names the
// field (and refuses text that is not UTF-8), and the mapping from the
// run pipeline's errors to HTTP statuses. The server and the session
// routes both use it, so a caller sees one shape everywhere.
package httpapi

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"

	"github.com/sandrun/sandrun"
)

// ErrorBody is every error answer's shape, on every route.
type ErrorBody struct {
	Error string `json:"error"`
	// Code is a stable machine-readable name for the error: bad_request,
	// not_found, method_not_allowed, unauthorized, forbidden, too_large,
	// unsupported_media_type, rate_limited, queue_full, queue_memory,
	// queue_timeout, draining, cancelled, not_implemented, dead,
	// too_many_sessions, closed, internal_error.
	Code string `json:"code"`
	// Field names the request field at fault, when there is one.
	Field string `json:"field,omitempty"`
	// Errors lists every field problem of a request that failed
	// validation.
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError is one problem with one field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// WriteJSON writes v with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// WriteError writes an ErrorBody; code "" is derived from status.
func WriteError(w http.ResponseWriter, status int, code, field, msg string) {
	if code == "" {
		code = CodeFor(status)
	}
	WriteJSON(w, status, ErrorBody{Error: msg, Code: code, Field: field})
}

// CodeFor is the default error code of an HTTP status.
func CodeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusConflict:
		return "conflict"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusUnprocessableEntity:
		return "rejected"
	case http.StatusTooManyRequests:
		return "too_many_requests"
	case 499:
		return "cancelled"
	case http.StatusNotImplemented:
		return "not_implemented"
	case http.StatusServiceUnavailable:
		return "unavailable"
	}
	return "internal_error"
}

// WriteDecodeError answers a body Decode refused.
func WriteDecodeError(w http.ResponseWriter, err error) {
	var de *DecodeError
	if errors.As(err, &de) {
		WriteJSON(w, de.Status, ErrorBody{Error: de.Error(), Code: CodeFor(de.Status), Field: de.Field})
		return
	}
	WriteError(w, http.StatusBadRequest, "", "body", err.Error())
}

// Refusal is a run that did not happen for a reason of the transport or
// of admission: an HTTP status, a code, a message and, for 429/503, when
// to retry.
type Refusal struct {
	Status     int
	Code       string
	Field      string
	Msg        string
	RetryAfter int // seconds
}

func (r *Refusal) Error() string { return r.Msg }

// Write answers the refusal.
func (r *Refusal) Write(w http.ResponseWriter) {
	if r.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(r.RetryAfter))
	}
	code := r.Code
	if code == "" {
		code = CodeFor(r.Status)
	}
	WriteJSON(w, r.Status, ErrorBody{Error: r.Msg, Code: code, Field: r.Field})
}

// Refused turns the pipeline's admission refusals into a *Refusal: 429
// with Retry-After when the server is full or the caller is over its
// rate, 503 while draining, 499 when the caller left while queued. nil
// for anything else.
func Refused(res *sandrun.Result, err error) *Refusal {
	var busy *sandrun.BusyError
	switch {
	case errors.As(err, &busy):
		status := http.StatusTooManyRequests
		if busy.Reason == "draining" {
			status = http.StatusServiceUnavailable
		}
		return &Refusal{Status: status, Code: busy.Reason, Msg: busy.Msg,
			RetryAfter: max(1, int(math.Ceil(busy.RetryAfter.Seconds())))}
	case err != nil && res != nil && res.Status == sandrun.StatusCancelled:
		return &Refusal{Status: 499, Msg: "the request was cancelled while queued"}
	}
	return nil
}

// RunStatus maps the pipeline's answer to an HTTP status. A program that
// failed is still a 200: the run happened and the Result says how.
func RunStatus(err error) int {
	var rej *sandrun.RejectError
	var un *sandrun.UnavailableError
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, sandrun.ErrBadRequest):
		return http.StatusBadRequest
	case errors.As(err, &rej):
		return http.StatusUnprocessableEntity
	case errors.As(err, &un):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// RequestErrors flattens (possibly joined) request errors.
func RequestErrors(err error) []FieldError {
	var out []FieldError
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var re *sandrun.RequestError
		if errors.As(e, &re) {
			out = append(out, FieldError{Field: re.Field, Message: re.Msg})
		}
	}
	walk(err)
	return out
}

// WriteBadRequest answers a request that failed validation: 400 with every
// field problem.
func WriteBadRequest(w http.ResponseWriter, err error) {
	fields := RequestErrors(err)
	body := ErrorBody{Error: err.Error(), Code: "bad_request", Errors: fields}
	if len(fields) > 0 {
		body.Field = fields[0].Field
	}
	WriteJSON(w, http.StatusBadRequest, body)
}

// WriteRunError answers a run that did not happen or that the pipeline
// refused. Refusals and bad requests get the error body; the pipeline's
// other errors (static limits 422, unavailable 503, sandbox failure 500)
// get the Result, which has the run's id and the message.
func WriteRunError(w http.ResponseWriter, res *sandrun.Result, err error) {
	var ref *Refusal
	if errors.As(err, &ref) {
		ref.Write(w)
		return
	}
	if ref := Refused(res, err); ref != nil {
		ref.Write(w)
		return
	}
	code := RunStatus(err)
	if code == http.StatusBadRequest || res == nil {
		WriteBadRequest(w, err)
		return
	}
	WriteJSON(w, code, res)
}
