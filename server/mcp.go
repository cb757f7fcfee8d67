package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/mcputil"
)

// The MCP server (github.com/modelcontextprotocol/go-sdk): the same tools
// over stdio (`sandrun mcp`) and over streamable HTTP at /mcp. The tool
// handlers call Server.execute, the path the REST API takes, so MCP runs
// share the admission limits, metrics and logs; they never shell out to
// the sandrun binary.

// RunCodeInput is the run_code tool's input: what POST /v1/runs takes,
// with the same names, less the network policy (run_code is a closed
// world, as its annotations say) and no_sanitize (a model gets sanitized
// output).
type RunCodeInput struct {
	Language string              `json:"language" jsonschema:"the language: a name or alias from list_languages"`
	Code     string              `json:"code" jsonschema:"the program text"`
	Stdin    string              `json:"stdin,omitempty" jsonschema:"text fed to standard input"`
	Args     []string            `json:"args,omitempty" jsonschema:"arguments passed to the program"`
	Env      map[string]string   `json:"env,omitempty" jsonschema:"environment variables for the program (nothing else of the server's environment reaches it)"`
	Files    []sandrun.InputFile `json:"files,omitempty" jsonschema:"files written into the working directory before the run; encoding base64 for binary content"`
	Limits   sandrun.Limits      `json:"limits,omitempty"`
	Backend  string              `json:"backend,omitempty"`
	Collect  []string            `json:"collect,omitempty" jsonschema:"glob patterns (relative to the working directory, e.g. out/*.csv) of files to return after the run"`
	Runtime  string              `json:"runtime,omitempty" jsonschema:"the language's runtime: auto (the default: python that imports pandas, numpy or matplotlib runs on python-data), plain, or data"`
	// FigureFormats: matplotlib figures come back as images (PNG; SVG on request).
	FigureFormats []string `json:"figure_formats,omitempty" jsonschema:"formats matplotlib figures come back in: png (the default), svg"`
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
	in := mcputil.Input[RunCodeInput]()
	tiers := []any{"auto"}
	for _, b := range s.sb.Backends() {
		tiers = append(tiers, b.Name())
	}
	in.Properties["backend"].Enum = tiers
	in.Properties["backend"].Description = "the isolation tier, among those this server allows; auto (the default) picks the strongest available"
	mcp.AddTool(ms, &mcp.Tool{
		Name:  "run_code",
		Title: "Run code in a sandbox",
		Description: "Run a program in an isolated sandbox (no network, limited CPU, memory and time) and return " +
			"its status, exit code, stdout and stderr (secrets in the output are redacted), and the files matching collect. " +
			"Where list_languages has python-data, python code that imports numpy, pandas or matplotlib runs there, and the figures it shows (plt.show(), or leaves open) come back as images: no savefig needed. " +
			"Each call starts fresh: nothing is kept between calls (use session_create for state). " +
			"Limits take units: {\"wall_time\": \"30s\", \"memory\": \"512MiB\"}.",
		InputSchema:  in,
		OutputSchema: mcputil.Output[sandrun.Result](),
		Annotations: &mcp.ToolAnnotations{
			Title:           "Run code in a sandbox",
			ReadOnlyHint:    false,
			DestructiveHint: &no, // the program's effects stay inside its throwaway sandbox
			IdempotentHint:  false,
			OpenWorldHint:   &no, // no network
		},
	}, s.mcpRunCode)
	mcp.AddTool(ms, &mcp.Tool{
		Name:         "list_languages",
		Title:        "List sandbox languages",
		Description:  "List the languages this sandbox can run now, with versions, aliases and isolation backends.",
		InputSchema:  mcputil.Input[struct{}](),
		OutputSchema: mcputil.Output[LanguagesBody](),
		Annotations: &mcp.ToolAnnotations{
			Title:           "List sandbox languages",
			ReadOnlyHint:    true,
			DestructiveHint: &no,
			IdempotentHint:  true,
			OpenWorldHint:   &no,
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
	if call != nil && call.Params != nil {
		if err := mcputil.CheckText(call.Params.Arguments); err != nil {
			return nil, nil, err
		}
	}
	req := &sandrun.Request{Language: in.Language, Code: in.Code, Stdin: in.Stdin, Args: in.Args, Env: in.Env,
		Files: in.Files, Limits: in.Limits, Backend: in.Backend, Collect: in.Collect,
		Runtime: in.Runtime, FigureFormats: in.FigureFormats}
	// CPU time follows a wall-clock limit above the CPU default unless
	// the caller set it: a model that asks for 30 s means the program's
	// time, not 5 s of CPU within it.
	if p := s.sb.Policy(); req.Limits.CPUTime == 0 && req.Limits.WallTime > p.Defaults.CPUTime {
		req.Limits.CPUTime = min(req.Limits.WallTime, p.Caps.CPUTime)
	}
	stop := s.startProgress(ctx, call, req)
	res, err := s.execute(ctx, req)
	stop()
	if res == nil { // refused (queue, rate, code size): a tool error the model can read
		return nil, nil, err
	}
	if errors.Is(err, sandrun.ErrBadRequest) {
		return nil, nil, fmt.Errorf("the request was refused: %w", err)
	}
	return &mcp.CallToolResult{
		Content: mcputil.ResultContent(res),
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
