package sessionhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/session"
)

// Client speaks to the /v1/sessions routes of a sandrun server.
type Client struct {
	// BaseURL is the server's address, e.g. http://127.0.0.1:8080.
	BaseURL string
	// Token, when set, is sent as "Authorization: Bearer <token>".
	Token string
	HTTP  *http.Client
}

// APIError is an error response from the server.
type APIError struct {
	StatusCode int
	Code, Msg  string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("server: %s (%d %s)", e.Msg, e.StatusCode, e.Code)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 512<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e Error
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		if resp.StatusCode == http.StatusNotFound && (e.Code == "" || strings.HasPrefix(e.Error, "no route")) {
			e.Error = "the server has no session routes (" + e.Error + ")"
		}
		return &APIError{StatusCode: resp.StatusCode, Code: e.Code, Msg: e.Error}
	}
	return json.Unmarshal(b, out)
}

// Create starts a session.
func (c *Client) Create(ctx context.Context, sp session.Spec) (session.Info, error) {
	var in session.Info
	err := c.do(ctx, http.MethodPost, "/v1/sessions", sp, &in)
	return in, err
}

// Run runs a step.
func (c *Client) Run(ctx context.Context, id string, req session.RunRequest) (*sandrun.Result, error) {
	var res sandrun.Result
	if err := c.do(ctx, http.MethodPost, "/v1/sessions/"+url.PathEscape(id)+"/run", req, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// List returns the server's sessions.
func (c *Client) List(ctx context.Context) ([]session.Info, error) {
	var out ListBody
	err := c.do(ctx, http.MethodGet, "/v1/sessions", nil, &out)
	return out.Sessions, err
}

// Get returns one session.
func (c *Client) Get(ctx context.Context, id string) (session.Info, error) {
	var in session.Info
	err := c.do(ctx, http.MethodGet, "/v1/sessions/"+url.PathEscape(id), nil, &in)
	return in, err
}

// Close ends a session.
func (c *Client) Close(ctx context.Context, id string) (session.Info, error) {
	var in session.Info
	err := c.do(ctx, http.MethodDelete, "/v1/sessions/"+url.PathEscape(id), nil, &in)
	return in, err
}
