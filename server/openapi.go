package server

import (
	_ "embed"
	"net/http"
)

// openAPI is the API description, committed as server/openapi.json and
// checked against the handlers and the Go types by openapi_test.go.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3 document.
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(openAPI)
}
