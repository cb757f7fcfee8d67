// Package sessionmcp is the MCP face of sessions: the session_create,
// session_run and session_close tools as plain values (name, description,
// JSON input schema, handler) that the server's MCP layer registers. They
// call the session library directly, never the binary.
package sessionmcp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/session"
)

// Tool is one MCP tool. Handle gets the call's arguments object and
// returns a JSON-encodable value (the tool result's structured content),
// or an error whose message is for the agent (the MCP layer reports it
// with isError).
type Tool struct {
	Name        string
	Description string
	InputSchema json.RawMessage
	Handle      func(ctx context.Context, args json.RawMessage) (any, error)
}

// Tools returns the session tools bound to m. owner, when not nil, names
// the caller from the call's context (the MCP layer's authenticated
// client); a session is usable only by the caller who created it.
func Tools(m *session.Manager, owner func(context.Context) string) []Tool {
	who := func(ctx context.Context) string {
		if owner == nil {
			return ""
		}
		return owner(ctx)
	}
	mine := func(ctx context.Context, id string) error {
		if id == "" {
			return &sandrun.RequestError{Field: "session_id", Msg: "is required"}
		}
		in, err := m.Get(id)
		if err == nil && in.Owner != who(ctx) {
			err = fmt.Errorf("%w %q", session.ErrNotFound, id)
		}
		return err
	}
	langs, _ := json.Marshal(m.Languages())
	return []Tool{
		{
			Name: "session_create",
			Description: "Start a stateful sandboxed interpreter (" + strings.Join(m.Languages(), ", ") + "). Variables, imports, functions " +
				"and files in the work directory persist between session_run calls. Returns the session id. " +
				"Close it with session_close when done; idle sessions are closed automatically.",
			InputSchema: json.RawMessage(`{"type":"object","additionalProperties":false,"required":["language"],"properties":{
"language":{"type":"string","enum":` + string(langs) + `},
"backend":{"type":"string","description":"isolation tier; default: the strongest available"},
"limits":{"type":"object","description":"memory (e.g. \"256MiB\"), wall_time (per step, e.g. \"10s\"), cpu_time (whole session), processes, output (per step and stream)"},
"idle_timeout":{"type":"string","description":"e.g. \"10m\""},
"max_lifetime":{"type":"string","description":"e.g. \"1h\""}}}`),
			Handle: func(ctx context.Context, args json.RawMessage) (any, error) {
				var sp session.Spec
				if err := strict(args, &sp); err != nil {
					return nil, err
				}
				sp.Owner = who(ctx)
				return m.Create(ctx, sp)
			},
		},
		{
			Name: "session_run",
			Description: "Run code in a session created with session_create. Returns this step's stdout, stderr, status " +
				"(ok, exit_error, timeout, memory_limit, ...) and error. A step past its time limit is interrupted and the " +
				"session's state is kept.",
			InputSchema: json.RawMessage(`{"type":"object","additionalProperties":false,"required":["session_id","code"],"properties":{
"session_id":{"type":"string"},
"code":{"type":"string"},
"stdin":{"type":"string"},
"limits":{"type":"object","description":"the same limits object as a run's: a step may lower wall_time (e.g. \"5s\") and output; the others are the session's"},
"timeout":{"type":"string","description":"deprecated alias of limits.wall_time"}}}`),
			Handle: func(ctx context.Context, args json.RawMessage) (any, error) {
				var a struct {
					SessionID string           `json:"session_id"`
					Code      string           `json:"code"`
					Stdin     string           `json:"stdin"`
					Limits    sandrun.Limits   `json:"limits"`
					Timeout   sandrun.Duration `json:"timeout"`
				}
				if err := strict(args, &a); err != nil {
					return nil, err
				}
				if err := mine(ctx, a.SessionID); err != nil {
					return nil, err
				}
				return m.Run(ctx, a.SessionID, session.RunRequest{Code: a.Code, Stdin: a.Stdin, Limits: a.Limits, Timeout: a.Timeout})
			},
		},
		{
			Name:        "session_close",
			Description: "Close a session: its interpreter and files are destroyed.",
			InputSchema: json.RawMessage(`{"type":"object","additionalProperties":false,"required":["session_id"],"properties":{"session_id":{"type":"string"}}}`),
			Handle: func(ctx context.Context, args json.RawMessage) (any, error) {
				var a struct {
					SessionID string `json:"session_id"`
				}
				if err := strict(args, &a); err != nil {
					return nil, err
				}
				if err := mine(ctx, a.SessionID); err != nil {
					return nil, err
				}
				return m.Close(a.SessionID)
			},
		},
	}
}

// strict decodes the arguments, refusing unknown fields with an error
// that names them.
func strict(args json.RawMessage, v any) error {
	if len(bytes.TrimSpace(args)) == 0 {
		args = json.RawMessage("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &sandrun.RequestError{Field: "arguments", Msg: fmt.Sprintf("invalid: %v", err)}
	}
	return nil
}
