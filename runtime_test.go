package sandrun_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"image"
	"image/png"
	"slices"
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/display"
	"github.com/sandrun/sandrun/lang"
)

// imports is an ImportFinder that reads "import X" lines.
type imports struct{}

func (imports) Imports(_, code string) ([]string, error) {
	var out []string
	for _, ln := range strings.Split(code, "\n") {
		if m, ok := strings.CutPrefix(ln, "import "); ok {
			out = append(out, m)
		}
	}
	return out, nil
}

// displayBackend answers like a tier that collected the display stream.
type displayBackend struct {
	fakeBackend
	stream string
}

func (d *displayBackend) Run(ctx context.Context, r *sandrun.Request) (*sandrun.Result, error) {
	res, err := d.fakeBackend.Run(ctx, r)
	if d.stream != "" {
		res.Files = append(res.Files,
			sandrun.OutputFile{Name: display.Stream, Content: []byte(d.stream)},
			sandrun.OutputFile{Name: display.ModuleFile, Content: []byte(display.Source())},
			sandrun.OutputFile{Name: "out.csv", Content: []byte("a,b\n")})
	}
	return res, err
}

func TestRuntimeChoice(t *testing.T) {
	b := &fakeBackend{name: "jail"}
	s, err := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{b}, Imports: imports{}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		language, runtime, code, want string
	}{
		{"python", "", "import os\nprint(1)", lang.Python},
		{"py", "", "import pandas\nprint(1)", lang.PythonData},
		{"python", "auto", "import matplotlib", lang.PythonData},
		{"python", "plain", "import pandas", lang.Python},
		{"python", "data", "print(1)", lang.PythonData},
		{"pydata", "", "print(1)", lang.PythonData},
		{"javascript", "", "import pandas", lang.JavaScript},
	}
	for _, c := range cases {
		res, err := s.Run(context.Background(), &sandrun.Request{Language: c.language, Runtime: c.runtime, Code: c.code})
		if err != nil || res.Language != c.want || b.got.Language != c.want {
			t.Errorf("%s/%s %q: ran %s (result %s), %v; want %s", c.language, c.runtime, c.code, b.got.Language, res.Language, err, c.want)
		}
	}
	res, err := s.Run(context.Background(), &sandrun.Request{Language: "javascript", Runtime: "data", Code: "1"})
	var re *sandrun.RequestError
	if !errors.As(err, &re) || re.Field != "runtime" || res.Status != sandrun.StatusRejected {
		t.Fatalf("unknown runtime: %v", err)
	}
}

func png1(t *testing.T) string {
	var buf bytes.Buffer
	img := image.NewGray(image.Rect(0, 0, 4, 3))
	img.Pix[0] = 9
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// On a runtime that displays, the backend gets the display module, the
// runtime's variables (below the request's) and the stream among the
// collected files; the result gets the items, not the files; the audit
// record keeps the request as the caller sent it.
func TestDisplayPlumbing(t *testing.T) {
	stream := `{"mime":"image/png","data":"` + png1(t) + `","figure":1,"output":1,"source":"figure"}` + "\n" +
		`{"mime":"image/svg+xml","text":"<svg>AKIAIOSFODNN7EXAMPLE</svg>","figure":1,"output":1,"source":"figure"}` + "\n"
	b := &displayBackend{fakeBackend: fakeBackend{name: "jail"}, stream: stream}
	rec := &recorder{}
	s, _ := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{b}, Recorder: rec})
	req := &sandrun.Request{Language: lang.PythonData, Code: "print(1)", Env: map[string]string{"MPLCONFIGDIR": "/tmp/mine"},
		FigureFormats: []string{"png", "svg"}, Collect: []string{"*"}}
	res, err := s.Run(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	got := b.got
	if got.Env["MPLBACKEND"] != "module://"+display.Module || got.Env["MPLCONFIGDIR"] != "/tmp/mine" || got.Env[display.FormatsEnv] != "png,svg" {
		t.Errorf("env %v", got.Env)
	}
	if !slices.ContainsFunc(got.Files, func(f sandrun.InputFile) bool { return f.Name == display.ModuleFile && f.Content == display.Source() }) ||
		!slices.Contains(got.Collect, display.Stream) || !slices.Contains(got.Collect, "*") {
		t.Errorf("files %d, collect %v", len(got.Files), got.Collect)
	}
	if len(req.Files) != 0 || len(req.Env) != 1 || len(req.Collect) != 1 {
		t.Errorf("the caller's request changed: %+v", req)
	}
	if len(res.Display) != 2 || res.Display[0].Width != 4 || res.Display[0].Height != 3 || res.Display[1].MIME != display.SVG {
		t.Fatalf("display %+v", res.Display)
	}
	if len(res.Files) != 1 || res.Files[0].Name != "out.csv" {
		t.Errorf("files %+v", res.Files)
	}
	if len(rec.ended) != 1 || rec.ended[0].Language != lang.PythonData {
		t.Errorf("recorded %+v", rec.ended)
	}

	// A plain runtime gets none of it.
	b.stream = ""
	if _, err := s.Run(context.Background(), &sandrun.Request{Language: lang.Python, Code: "print(1)"}); err != nil || len(b.got.Files) != 0 || b.got.Env != nil || b.got.Collect != nil {
		t.Errorf("plain: %v %+v", err, b.got)
	}
}

func TestDisplayRequestErrors(t *testing.T) {
	s, _ := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{&fakeBackend{name: "jail"}}})
	for _, c := range []struct {
		req   sandrun.Request
		field string
	}{
		{sandrun.Request{Language: lang.PythonData, Code: "1", Files: []sandrun.InputFile{{Name: display.ModuleFile, Content: "x"}}}, "files[0].name"},
		{sandrun.Request{Language: lang.PythonData, Code: "1", Files: []sandrun.InputFile{{Name: "ok.txt"}, {Name: display.Dir + "/x"}}}, "files[1].name"},
		{sandrun.Request{Language: lang.PythonData, Code: "1", FigureFormats: []string{"png", "gif"}}, "figure_formats[1]"},
	} {
		_, err := s.Run(context.Background(), &c.req)
		var re *sandrun.RequestError
		if !errors.As(err, &re) || re.Field != c.field {
			t.Errorf("%+v: %v, want an error about %s", c.req.Files, err, c.field)
		}
	}
	// On a plain runtime the names are the caller's to use.
	if _, err := s.Run(context.Background(), &sandrun.Request{Language: lang.Python, Code: "1", Files: []sandrun.InputFile{{Name: display.ModuleFile}}}); err != nil {
		t.Error(err)
	}
}
