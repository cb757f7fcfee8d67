package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/display"
	"github.com/sandrun/sandrun/lang"
	"github.com/sandrun/sandrun/server"
)

func needData(t *testing.T) {
	t.Helper()
	if _, err := sharedLangs().Lookup(context.Background(), lang.PythonData); err != nil {
		skipOrFail(t, "the data runtime is not installed (scripts/setup.d/30-data.sh): %v", err)
	}
}

const plotCode = "import pandas as pd, matplotlib.pyplot as plt\nprint(pd.Series([1, 2]).sum())\nplt.plot([1, 3, 2])\nplt.show()\n"

func notBlankPNG(t *testing.T, d sandrun.Display) {
	t.Helper()
	if d.MIME != display.PNG || d.Width != 640 || d.Height != 480 || d.Size < 1000 || display.Blank(d) {
		t.Errorf("figure: %s %dx%d %d bytes", d.MIME, d.Width, d.Height, d.Size)
	}
}

// POST /v1/runs: python that imports pandas runs on the data runtime and
// its figure comes back in display.
func TestDataREST(t *testing.T) {
	needData(t)
	e := newEnv(t, nil)
	body, _ := json.Marshal(map[string]any{"language": "python", "code": plotCode, "limits": map[string]string{"memory": "512MiB", "wall_time": "120s", "cpu_time": "60s"}})
	r := e.post(t, "/v1/runs", string(body))
	var res sandrun.Result
	r.json(t, &res)
	if r.code != 200 || res.Status != sandrun.StatusOK || res.Language != lang.PythonData || res.Stdout != "3\n" || len(res.Display) != 1 {
		t.Fatalf("%d %s %s %q %q display %d", r.code, res.Status, res.Language, res.Stdout, res.Stderr, len(res.Display))
	}
	notBlankPNG(t, res.Display[0])
	// A runtime the language does not have is the caller's mistake.
	r = e.post(t, "/v1/runs", `{"language":"bash","code":"echo","runtime":"data"}`)
	if r.code != 400 || !strings.Contains(string(r.body), `"field":"runtime"`) {
		t.Fatalf("%d %s", r.code, r.body)
	}
}

// Streaming: each item the program showed is a display event, before the
// result, which leaves them out.
func TestDataStream(t *testing.T) {
	needData(t)
	e := newEnv(t, nil)
	body, _ := json.Marshal(map[string]any{"language": "python", "code": plotCode, "figure_formats": []string{"png", "svg"}, "limits": map[string]string{"memory": "512MiB", "wall_time": "120s", "cpu_time": "60s"}})
	req, _ := http.NewRequest("POST", e.url+"/v1/runs", strings.NewReader(string(body)))
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var names []string
	var items []sandrun.Display
	var res sandrun.Result
	for _, ev := range readSSE(t, resp) {
		names = append(names, ev.name)
		switch ev.name {
		case "display":
			var d sandrun.Display
			if err := json.Unmarshal([]byte(ev.data), &d); err != nil {
				t.Fatal(err)
			}
			items = append(items, d)
		case "result":
			_ = json.Unmarshal([]byte(ev.data), &res)
		}
	}
	if got := strings.Join(names, ","); !strings.HasSuffix(got, "display,display,result") || !strings.HasPrefix(got, "stdout") {
		t.Fatalf("events %s", got)
	}
	if res.Status != sandrun.StatusOK || res.Display != nil || len(items) != 2 || items[1].MIME != display.SVG || items[0].Output != items[1].Output {
		t.Fatalf("result %s display %v; items %d", res.Status, res.Display, len(items))
	}
	notBlankPNG(t, items[0])
}

// The "done when" over MCP with the official TypeScript SDK: a
// data session loads a CSV passed as a file, groups it with pandas and
// plots it: the step's result has the PNG as image content (decoded: its
// size, not blank) and the table (text content, and HTML in the
// structured content); a one-shot run's figure comes back as an image
// too, and its SVG as an embedded resource.
func TestMCPDataTS(t *testing.T) {
	needData(t)
	const secret = "sr_mcp-data-secret-0123456789"
	e := newEnv(t, func(o *server.Options) { o.MCP = true; o.Auth = tokenAuth(t, secret); withSessions(t)(o) })
	type content struct {
		Type, Text, Data, MimeType string
		Resource                   struct{ URI, MimeType, Text string }
	}
	type call struct {
		Content           []content
		StructuredContent struct {
			Status   string
			Language string
			Display  []sandrun.Display
		}
		IsError bool
		Thrown  string
	}
	var out struct{ Create, Step, Close, Run call }
	nodeClient(t, "testdata/clients", &out, "mcp_data_client.mjs", e.url+"/mcp", secret)
	images := func(c call) (n int, shown []sandrun.Display) {
		for _, x := range c.Content {
			if x.Type != "image" {
				continue
			}
			n++
			raw, err := base64.StdEncoding.DecodeString(x.Data)
			if err != nil || x.MimeType != display.PNG {
				t.Errorf("image content: %s %v", x.MimeType, err)
				continue
			}
			shown = append(shown, sandrun.Display{MIME: x.MimeType, Data: x.Data, Encoding: "base64", Size: len(raw)})
		}
		return
	}
	s := out.Step
	if s.IsError || s.Thrown != "" || s.StructuredContent.Status != "ok" {
		t.Fatalf("session_run: %+v (create %+v)", s, out.Create)
	}
	if n, shown := images(s); n != 1 || display.Blank(shown[0]) || shown[0].Size < 1000 {
		t.Errorf("session step: %d images", n)
	}
	var table string
	for _, d := range s.StructuredContent.Display {
		if d.MIME == display.HTML {
			table = d.Data
		}
	}
	text := ""
	for _, x := range s.Content {
		text += x.Text
	}
	if !strings.Contains(table, "<table") || !strings.Contains(table, "<td>24</td>") || !strings.Contains(text, "north") || !strings.Contains(text, "24") {
		t.Errorf("the table: html %q, text %q", table, text)
	}
	for _, d := range s.StructuredContent.Display {
		if d.MIME == display.PNG {
			notBlankPNG(t, d)
		}
	}
	r := out.Run
	n, _ := images(r)
	svg := false
	for _, x := range r.Content {
		svg = svg || (x.Type == "resource" && x.Resource.MimeType == display.SVG && strings.Contains(x.Resource.Text, "<svg"))
	}
	if r.IsError || r.Thrown != "" || r.StructuredContent.Language != lang.PythonData || n != 1 || !svg {
		t.Errorf("run_code: %d images, svg %v: %+v", n, svg, r)
	}
}

// A Piston request runs the runtime and version it names: python that
// imports pandas stays on python (where it fails), python-data has it.
func TestDataPistonKeepsItsRuntime(t *testing.T) {
	needData(t)
	e := newEnv(t, nil)
	for _, c := range []struct{ language, want string }{{"python", "ModuleNotFoundError"}, {"python-data", "3\n"}} {
		body, _ := json.Marshal(map[string]any{"language": c.language, "version": "*", "run_timeout": 60000, "run_memory_limit": 512 << 20,
			"files": []map[string]string{{"content": "import pandas as pd\nprint(pd.Series([1, 2]).sum())"}}})
		r := e.post(t, "/api/v2/execute", string(body))
		var out server.PistonResponse
		r.json(t, &out)
		if r.code != 200 || out.Language != c.language || !strings.Contains(out.Run.Stdout+out.Run.Stderr, c.want) {
			t.Errorf("%s: %d %+v", c.language, r.code, out)
		}
	}
}

// The display stream is the program's to write, and only that: a
// symlink in its place reads nothing of the host (the collector opens
// nothing through links), and forged items pass the same checks.
func TestDataStreamIsUntrusted(t *testing.T) {
	needData(t)
	e := newEnv(t, nil)
	code := "import os\nos.makedirs('.sandrun', exist_ok=True)\nos.symlink('/etc/passwd', '.sandrun/display.jsonl')\n"
	body, _ := json.Marshal(map[string]any{"language": "python-data", "code": code})
	var res sandrun.Result
	e.post(t, "/v1/runs", string(body)).json(t, &res)
	raw, _ := json.Marshal(res)
	if res.Status != sandrun.StatusOK || len(res.Display) != 0 || strings.Contains(string(raw), "root:") {
		t.Fatalf("%s display %+v", res.Status, res.Display)
	}
	code = "import json, os\nos.makedirs('.sandrun', exist_ok=True)\nwith open('.sandrun/display.jsonl', 'w') as f:\n" +
		"    f.write(json.dumps({'mime': 'text/html', 'text': '<b>forged</b>', 'output': 1, 'source': 'value'}) + '\\n')\n" +
		"    f.write(json.dumps({'mime': 'image/png', 'data': 'bm90IGEgcG5n', 'output': 2, 'source': 'figure'}) + '\\n')\n" +
		"    f.write(json.dumps({'mime': 'application/javascript', 'text': 'alert(1)', 'output': 3, 'source': 'value'}) + '\\n')\n"
	body, _ = json.Marshal(map[string]any{"language": "python-data", "code": code})
	res = sandrun.Result{}
	e.post(t, "/v1/runs", string(body)).json(t, &res)
	if len(res.Display) != 1 || res.Display[0].Data != "<b>forged</b>" || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "2 malformed") {
		t.Fatalf("display %+v warnings %q", res.Display, res.Warnings)
	}
}
