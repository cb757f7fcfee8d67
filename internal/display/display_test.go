package display

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun/lang"
)

// The data runtime's catalogue entry names this package's module.
func TestRuntimeUsesTheModule(t *testing.T) {
	for _, l := range lang.Known() {
		if l.Display && l.Env["MPLBACKEND"] != "module://"+Module {
			t.Errorf("%s: MPLBACKEND %q, want module://%s", l.Name, l.Env["MPLBACKEND"], Module)
		}
	}
}

func pngOf(t *testing.T, w, h int) string {
	t.Helper()
	var buf bytes.Buffer
	img := image.NewGray(image.Rect(0, 0, w, h))
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func TestParse(t *testing.T) {
	good := pngOf(t, 3, 2)
	lines := []string{
		`{"mime":"image/png","data":"` + good + `","figure":1,"output":1,"source":"figure"}`,
		`{"mime":"image/svg+xml","text":"<svg/>","figure":1,"output":1,"source":"figure"}`,
		`{"mime":"image/png","data":"aGVsbG8=","output":2,"source":"figure"}`, // not a PNG
		`{"mime":"application/x-evil","text":"x","output":3,"source":"value"}`,
		`{"mime":"text/plain","text":"   a\n0  1","output":4,"source":"value"}`,
		`{"mime":"text/plain","text":"x","output":5,"source":"elsewhere"}`,
		`not json`,
		`{"mime":"text/html","text":"<table>`, // cut
	}
	items, notes := Parse([]byte(strings.Join(lines, "\n")), 0, true)
	if len(items) != 3 || items[0].Width != 3 || items[0].Height != 2 || items[0].Encoding != "base64" || items[1].Data != "<svg/>" || items[2].Data != "   a\n0  1" {
		t.Fatalf("%+v", items)
	}
	if len(notes) != 2 || !strings.Contains(notes[1], "4 malformed") {
		t.Fatalf("notes %q", notes)
	}
	// The byte cap drops whole items, never cuts one.
	items, notes = Parse([]byte(strings.Join(lines[:2], "\n")), int64(items[0].Size), false)
	if len(items) != 1 || items[0].MIME != PNG || len(notes) != 1 {
		t.Fatalf("capped: %+v %q", items, notes)
	}
	// The count cap.
	many := strings.Repeat(`{"mime":"text/plain","text":"x","output":1,"source":"value"}`+"\n", MaxItems+5)
	if items, _ := Parse([]byte(many), 0, false); len(items) != MaxItems {
		t.Fatalf("%d items", len(items))
	}
}

// The module itself, in Debian's python3 with matplotlib and pandas: the
// figures a script shows or leaves open come back in order, decodable and
// not blank, without the script saving anything.
func TestModuleRendersFigures(t *testing.T) {
	py := dataPython(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ModuleFile), []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
	prog := `
import matplotlib.pyplot as plt, pandas as pd
plt.plot([1, 3, 2]); plt.title("first")
plt.show()
fig = plt.figure(figsize=(3, 2)); plt.bar(["a", "b"], [2, 5])
fig2 = plt.figure(); plt.scatter([1, 2], [2, 1])
print("done")
`
	os.WriteFile(filepath.Join(dir, "main.py"), []byte(prog), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-E", "-s", "-B", "-u", "main.py")
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir, "MPLBACKEND=module://" + Module, "MPLCONFIGDIR=" + filepath.Join(dir, "mpl"), FormatsEnv + "=png,svg", "PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "done" {
		t.Fatalf("%v: %s", err, out)
	}
	stream, err := os.ReadFile(filepath.Join(dir, Stream))
	if err != nil {
		t.Fatal(err)
	}
	items, notes := Parse(stream, 0, false)
	if len(notes) > 0 || len(items) != 6 {
		t.Fatalf("%d items, notes %q", len(items), notes)
	}
	for i, it := range items {
		wantMIME := []string{PNG, SVG}[i%2]
		// Shown figures close: the next new figure takes number 1 again.
		if it.MIME != wantMIME || it.Output != i/2+1 || it.Figure != []int{1, 1, 2}[i/2] || it.Source != "figure" {
			t.Errorf("item %d: %s output %d figure %d", i, it.MIME, it.Output, it.Figure)
		}
	}
	if items[2].Width != 300 || items[2].Height != 200 {
		t.Errorf("figure 2 is %dx%d, want 300x200 (3x2 inches at 100 dpi)", items[2].Width, items[2].Height)
	}
	for _, i := range []int{0, 2, 4} {
		if Blank(items[i]) {
			t.Errorf("figure %d is blank", items[i].Figure)
		}
	}
	if !strings.Contains(items[1].Data, "<svg") {
		t.Errorf("svg: %.80s", items[1].Data)
	}
}

// A value as a notebook shows it: a DataFrame as text and an HTML table.
func TestModuleDisplaysValues(t *testing.T) {
	py := dataPython(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ModuleFile), []byte(source), 0o644)
	prog := `
import sandrun_display as d, pandas as pd, json
got = []
d.sink = got.append
d.display_value(pd.DataFrame({"k": ["a", "b"], "v": [1, 2]}))
d.display_value(None)
d.display_value(42)
print(json.dumps(got))
`
	cmd := exec.Command(py, "-E", "-s", "-B", "-c", prog)
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir, "MPLCONFIGDIR=" + filepath.Join(dir, "mpl"), "PATH=/usr/bin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var got []map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err, string(out))
	}
	if len(got) != 3 || got[0]["mime"] != Text || got[1]["mime"] != HTML || got[2]["text"] != "42" ||
		!strings.Contains(got[1]["text"].(string), "<table") || got[0]["output"] != got[1]["output"] {
		t.Fatalf("%v", got)
	}
}

func dataPython(t *testing.T) string {
	t.Helper()
	l, err := lang.NewRegistry(lang.Options{NoCache: true}).Lookup(context.Background(), lang.PythonData)
	if err != nil {
		if os.Getenv("SANDRUN_TEST_STRICT") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return l.Interpreter
}
