// Package sessionmcp is the MCP face of sessions: the session_create,
// session_run, session_list and session_close tools, typed (input and
// output schemas from internal/mcputil, so a session's limits take the
// same units as run_code's and the REST API's) and registered on the
// server's MCP server. They call the session library directly, never the
// binary.
package sessionmcp

import (
	"context"
	"fmt"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/mcputil"
	"github.com/sandrun/sandrun/session"
)

// CreateInput is session_create's input: a session.Spec less the owner
// (set from the caller's credentials).
type CreateInput struct {
	Language    string              `json:"language"`
	Backend     string              `json:"backend,omitempty"`
	Limits      sandrun.Limits      `json:"limits,omitempty"`
	IdleTimeout sandrun.Duration    `json:"idle_timeout,omitempty"`
	MaxLifetime sandrun.Duration    `json:"max_lifetime,omitempty"`
	Env         map[string]string   `json:"env,omitempty" jsonschema:"environment variables for the interpreter"`
	Files       []sandrun.InputFile `json:"files,omitempty" jsonschema:"files written into the session's working directory at the start"`
	// Network is what the session may reach for its whole life.
	Network sandrun.NetworkPolicy `json:"network,omitzero"`
}

// RunInput is session_run's input: a step, with the same names as a run.
type RunInput struct {
	SessionID string              `json:"session_id" jsonschema:"the id session_create returned"`
	Code      string              `json:"code" jsonschema:"the code to run in the session"`
	Stdin     string              `json:"stdin,omitempty" jsonschema:"text fed to standard input during this step"`
	Files     []sandrun.InputFile `json:"files,omitempty" jsonschema:"files written into the session's working directory before this step"`
	Collect   []string            `json:"collect,omitempty" jsonschema:"glob patterns of files to return after this step"`
	Limits    sandrun.Limits      `json:"limits,omitempty"`
}

// IDInput names a session.
type IDInput struct {
	SessionID string `json:"session_id" jsonschema:"the id session_create returned"`
}

// ListOutput is session_list's output.
type ListOutput struct {
	Sessions []session.Info `json:"sessions"`
}

// Register adds the session tools to ms, bound to m. owner names the
// caller from the call's context (the MCP layer's authenticated client;
// nil: everyone is the same caller); a session is visible and usable only
// by the caller who created it.
func Register(ms *mcp.Server, m *session.Manager, owner func(context.Context) string) {
	t := &tools{m: m, owner: owner}
	no, yes := false, true
	langs := strings.Join(m.Languages(), ", ")

	create := mcputil.Input[CreateInput]()
	var enum []any
	for _, l := range m.Languages() {
		enum = append(enum, l)
	}
	create.Properties["language"].Enum = enum
	mcputil.Describe(create, "backend", "isolation tier: "+strings.Join(m.Backends(), ", ")+"; default: the strongest available")
	mcputil.Describe(create, "idle_timeout", `close the session after this long without a step, e.g. "10m"`)
	mcputil.Describe(create, "max_lifetime", `close the session this long after its creation, e.g. "1h"`)
	create.Properties["limits"].Description = "the same limits object as run_code's: memory, processes and cpu_time hold for the whole session; wall_time and output for each step"
	mcp.AddTool(ms, &mcp.Tool{
		Name:  "session_create",
		Title: "Start a sandboxed interpreter session",
		Description: "Start a stateful sandboxed interpreter (" + langs + "). Variables, imports, functions " +
			"and files in the work directory persist between session_run calls. Returns the session (its id, state, limits). " +
			"Close it with session_close when done; idle sessions are closed automatically.",
		InputSchema:  create,
		OutputSchema: mcputil.Output[session.Info](),
		Annotations: &mcp.ToolAnnotations{Title: "Start a session", ReadOnlyHint: false, DestructiveHint: &no,
			IdempotentHint: false, OpenWorldHint: &no},
	}, t.create)

	run := mcputil.Input[RunInput]()
	run.Properties["limits"].Description = `the same limits object as run_code's; a step may lower wall_time (e.g. "5s") and output, the others are the session's`
	mcp.AddTool(ms, &mcp.Tool{
		Name:  "session_run",
		Title: "Run code in a session",
		Description: "Run code in a session created with session_create. Returns this step's status (ok, exit_error, timeout, " +
			"memory_limit, ...), stdout, stderr, usage and the files matching collect. A step past its time limit is " +
			"interrupted and the session's state is kept.",
		InputSchema:  run,
		OutputSchema: mcputil.Output[sandrun.Result](),
		// A step may overwrite the session's variables and files.
		Annotations: &mcp.ToolAnnotations{Title: "Run code in a session", ReadOnlyHint: false, DestructiveHint: &yes,
			IdempotentHint: false, OpenWorldHint: &no},
	}, t.run)

	mcp.AddTool(ms, &mcp.Tool{
		Name:         "session_list",
		Title:        "List your sessions",
		Description:  "List the sessions you created that are still known (live and recently dead), oldest first.",
		InputSchema:  mcputil.Input[struct{}](),
		OutputSchema: mcputil.Output[ListOutput](),
		Annotations: &mcp.ToolAnnotations{Title: "List sessions", ReadOnlyHint: true, DestructiveHint: &no,
			IdempotentHint: true, OpenWorldHint: &no},
	}, t.list)

	mcp.AddTool(ms, &mcp.Tool{
		Name:         "session_close",
		Title:        "Close a session",
		Description:  "Close a session: its interpreter and files are destroyed.",
		InputSchema:  mcputil.Input[IDInput](),
		OutputSchema: mcputil.Output[session.Info](),
		Annotations: &mcp.ToolAnnotations{Title: "Close a session", ReadOnlyHint: false, DestructiveHint: &yes,
			IdempotentHint: true, OpenWorldHint: &no},
	}, t.close)
}

type tools struct {
	m     *session.Manager
	owner func(context.Context) string
}

func (t *tools) who(ctx context.Context) string {
	if t.owner == nil {
		return ""
	}
	return t.owner(ctx)
}

// mine checks that the session exists and belongs to the caller; another
// caller's session is "not found", as over HTTP.
func (t *tools) mine(ctx context.Context, id string) error {
	if id == "" {
		return &sandrun.RequestError{Field: "session_id", Msg: "is required"}
	}
	in, err := t.m.Get(id)
	if err == nil && in.Owner != t.who(ctx) {
		err = fmt.Errorf("%w %q", session.ErrNotFound, id)
	}
	return err
}

func (t *tools) create(ctx context.Context, call *mcp.CallToolRequest, in CreateInput) (*mcp.CallToolResult, session.Info, error) {
	if err := checkText(call); err != nil {
		return nil, session.Info{}, err
	}
	info, err := t.m.Create(ctx, session.Spec{Language: in.Language, Backend: in.Backend, Limits: in.Limits,
		IdleTimeout: in.IdleTimeout, MaxLifetime: in.MaxLifetime, Env: in.Env, Files: in.Files, Network: in.Network, Owner: t.who(ctx)})
	if err != nil {
		return nil, session.Info{}, err
	}
	return textResult(fmt.Sprintf("session %s started: %s on %s, idle timeout %s", info.ID, info.Language, info.Backend, info.IdleTimeout)), info, nil
}

func (t *tools) run(ctx context.Context, call *mcp.CallToolRequest, in RunInput) (*mcp.CallToolResult, *sandrun.Result, error) {
	if err := checkText(call); err != nil {
		return nil, nil, err
	}
	if err := t.mine(ctx, in.SessionID); err != nil {
		return nil, nil, err
	}
	res, err := t.m.Run(ctx, in.SessionID, session.RunRequest{Code: in.Code, Stdin: in.Stdin, Files: in.Files,
		Collect: in.Collect, Limits: in.Limits})
	if res == nil || (err != nil && res.Status == sandrun.StatusRejected) {
		if err == nil {
			err = fmt.Errorf("the step did not run")
		}
		return nil, nil, err
	}
	return &mcp.CallToolResult{Content: mcputil.ResultContent(res),
		IsError: res.Status == sandrun.StatusInternalError}, res, nil
}

func (t *tools) list(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, ListOutput, error) {
	out := ListOutput{Sessions: []session.Info{}}
	var b strings.Builder
	for _, in := range t.m.List() {
		if in.Owner != t.who(ctx) {
			continue
		}
		out.Sessions = append(out.Sessions, in)
		fmt.Fprintf(&b, "%s: %s on %s, %s, %d steps, last used %s\n", in.ID, in.Language, in.Backend, in.State, in.Runs, in.LastUsed.Format("15:04:05"))
	}
	if len(out.Sessions) == 0 {
		b.WriteString("no sessions\n")
	}
	return textResult(b.String()), out, nil
}

func (t *tools) close(ctx context.Context, _ *mcp.CallToolRequest, in IDInput) (*mcp.CallToolResult, session.Info, error) {
	if err := t.mine(ctx, in.SessionID); err != nil {
		return nil, session.Info{}, err
	}
	info, err := t.m.Close(in.SessionID)
	if err != nil {
		return nil, session.Info{}, err
	}
	return textResult(fmt.Sprintf("session %s closed after %d steps", info.ID, info.Runs)), info, nil
}

// checkText refuses text that is not UTF-8 in the raw arguments
// (mcputil.CheckText).
func checkText(call *mcp.CallToolRequest) error {
	if call == nil || call.Params == nil {
		return nil
	}
	return mcputil.CheckText(call.Params.Arguments)
}

func textResult(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}
