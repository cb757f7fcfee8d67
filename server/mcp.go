package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sandrun/sandrun"
)

// The MCP server (github.com/modelcontextprotocol/go-sdk): the same tools
// over stdio (`sandrun mcp`) and over streamable HTTP at /mcp. The tool
// handlers call Server.execute, the path the REST API takes, so MCP runs
// share the admission limits, metrics and logs; they never shell out to
// the sandrun binary.

// RunCodeInput is the run_code tool's input.
type RunCodeInput struct {
	Language string              `json:"language" jsonschema:"the language: python, javascript, bash or starlark (see list_languages)"`
	Code     string              `json:"code" jsonschema:"the program text"`
	Files    []sandrun.InputFile `json:"files,omitempty" jsonschema:"files written into the working directory before the run"`
	Stdin    string              `json:"stdin,omitempty" jsonschema:"text fed to standard input"`
	Timeout  float64             `json:"timeout,omitempty" jsonschema:"wall-clock limit in seconds (default 10)"`
}

// MCPTools lets other packages (sessions) add tools to the MCP server.
type MCPTools func(*mcp.Server)

// MCPServer builds an MCP server with run_code and list_languages (and
// the tools of Options.MCPTools). Each call returns a new server; stdio
// uses one, the HTTP handler another.
func (s *Server) MCPServer() *mcp.Server {
	ms := mcp.NewServer(&mcp.Implementation{Name: "sandrun", Title: "sandrun code sandbox", Version: s.opts.Version},
		&mcp.ServerOptions{
			Instructions: "Run untrusted code in an isolated sandbox with no network. " +
				"Call list_languages to see what this host runs, then run_code.",
			Logger: s.log,
		})
	no := false
	mcp.AddTool(ms, &mcp.Tool{
		Name:  "run_code",
		Title: "Run code in a sandbox",
		Description: "Run a program in an isolated sandbox (no network, limited CPU, memory and time) and return " +
			"its status, exit code, stdout and stderr (secrets in the output are redacted). " +
			"Each call starts fresh: nothing is kept between calls.",
		Annotations: &mcp.ToolAnnotations{
			Title:           "Run code in a sandbox",
			ReadOnlyHint:    false,
			DestructiveHint: &no, // the program's effects stay inside its throwaway sandbox
			IdempotentHint:  false,
			OpenWorldHint:   &no, // no network
		},
	}, s.mcpRunCode)
	mcp.AddTool(ms, &mcp.Tool{
		Name:        "list_languages",
		Title:       "List sandbox languages",
		Description: "List the languages this sandbox can run now, with versions, aliases and isolation backends.",
		Annotations: &mcp.ToolAnnotations{
			Title:          "List sandbox languages",
			ReadOnlyHint:   true,
			IdempotentHint: true,
			OpenWorldHint:  &no,
		},
	}, s.mcpListLanguages)
	if s.opts.MCPTools != nil {
		s.opts.MCPTools(ms)
	}
	return ms
}

// MCPHandler serves MCP over streamable HTTP. With tokens on, each MCP
// session is bound to the token's name (the SDK's TokenInfo.UserID), so
// one caller cannot drive another's session by its id.
func (s *Server) MCPHandler() http.Handler {
	ms := s.MCPServer()
	var h http.Handler = mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return ms },
		&mcp.StreamableHTTPOptions{Logger: s.log, MaxRequestBodyBytes: s.opts.MaxBodyBytes})
	if s.opts.Auth.Enabled() {
		verify := func(_ context.Context, tok string, _ *http.Request) (*auth.TokenInfo, error) {
			name, ok := s.opts.Auth.check(tok)
			if !ok {
				return nil, auth.ErrInvalidToken
			}
			return &auth.TokenInfo{UserID: name}, nil
		}
		h = auth.RequireBearerToken(verify, &auth.RequireBearerTokenOptions{AllowMissingExpiration: true})(h)
	}
	return h
}

// ServeMCPStdio runs the MCP server over stdin and stdout until the
// client leaves or ctx ends; runs still going are then cancelled.
func (s *Server) ServeMCPStdio(ctx context.Context) error {
	ctx = context.WithValue(ctx, callerKey{}, "stdio")
	err := s.MCPServer().Run(ctx, &mcp.StdioTransport{})
	s.Close()
	return err
}

func (s *Server) mcpRunCode(ctx context.Context, call *mcp.CallToolRequest, in RunCodeInput) (*mcp.CallToolResult, *sandrun.Result, error) {
	req := &sandrun.Request{Language: in.Language, Code: in.Code, Files: in.Files, Stdin: in.Stdin}
	if in.Timeout < 0 {
		return nil, nil, errors.New("timeout: must not be negative")
	}
	if in.Timeout > 0 {
		req.Limits.WallTime = sandrun.Duration(time.Duration(in.Timeout * float64(time.Second)))
		// CPU time follows the wall clock unless the default is larger.
		if req.Limits.WallTime > sandrun.DefaultLimits().CPUTime {
			req.Limits.CPUTime = req.Limits.WallTime
		}
	}
	stop := s.startProgress(ctx, call, req)
	res, err := s.execute(ctx, req)
	stop()
	if res == nil { // refused (limits, queue, rate): a tool error the model can read
		return nil, nil, err
	}
	if errors.Is(err, sandrun.ErrBadRequest) {
		return nil, nil, fmt.Errorf("the request was refused: %w", err)
	}
	return &mcp.CallToolResult{
		Content: []mcp.Content{&mcp.TextContent{Text: ResultText(res)}},
		// A run that could not happen is an error for the model; a program
		// that failed is a normal result it should read.
		IsError: res.Status == sandrun.StatusInternalError || res.Status == sandrun.StatusRejected,
	}, res, nil
}

func (s *Server) mcpListLanguages(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, LanguagesBody, error) {
	body := s.languages(ctx)
	var b strings.Builder
	for _, l := range body.Languages {
		fmt.Fprintf(&b, "%s %s (aliases: %s; backends: %s)\n", l.Name, l.Version, strings.Join(l.Aliases, ", "), strings.Join(l.Backends, ", "))
	}
	if len(body.Languages) == 0 {
		b.WriteString("no language can run on this host\n")
	}
	for n, why := range body.Unavailable {
		fmt.Fprintf(&b, "%s: unavailable (%s)\n", n, why)
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: b.String()}}}, body, nil
}

// ResultText renders a Result for a language model: the verdict first,
// then the output in fenced blocks, then notes (truncation, redaction).
func ResultText(r *sandrun.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "status: %s", r.Status)
	if r.ExitCode >= 0 {
		fmt.Fprintf(&b, " (exit code %d)", r.ExitCode)
	}
	if r.Signal != "" {
		fmt.Fprintf(&b, " (signal %s)", r.Signal)
	}
	fmt.Fprintf(&b, ", %d ms, %s backend\n", r.Usage.WallMs, r.Backend)
	if r.Error != "" {
		fmt.Fprintf(&b, "error: %s\n", r.Error)
	}
	block := func(name, text string, truncated bool) {
		if text == "" {
			fmt.Fprintf(&b, "%s: (empty)\n", name)
			return
		}
		fence := "```"
		for strings.Contains(text, fence) {
			fence += "`"
		}
		fmt.Fprintf(&b, "%s:\n%s\n%s", name, fence, text)
		if !strings.HasSuffix(text, "\n") {
			b.WriteString("\n")
		}
		b.WriteString(fence + "\n")
		if truncated {
			fmt.Fprintf(&b, "(%s was cut at the output limit)\n", name)
		}
	}
	block("stdout", r.Stdout, r.StdoutTruncated)
	block("stderr", r.Stderr, r.StderrTruncated)
	for _, d := range r.Detections {
		fmt.Fprintf(&b, "note: %d secret(s) matching %s were redacted from %s\n", d.Count, d.Rule, d.Stream)
	}
	for _, f := range r.Files {
		fmt.Fprintf(&b, "file: %s (%d bytes, sha256 %s)\n", f.Name, f.Size, f.SHA256)
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}
