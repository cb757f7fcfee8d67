package session_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/display"
	"github.com/sandrun/sandrun/lang"
	"github.com/sandrun/sandrun/session"
)

// needData skips (fails under SANDRUN_TEST_STRICT=1) where the data
// runtime is not installed.
func needData(t *testing.T) {
	t.Helper()
	if _, err := lang.NewRegistry(lang.Options{}).Lookup(context.Background(), lang.PythonData); err != nil {
		if os.Getenv("SANDRUN_TEST_STRICT") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

const salesCSV = "region,month,sales\nnorth,1,10\nsouth,1,7\nnorth,2,14\nsouth,2,9\neast,2,4\n"

// The "done when": a session loads a CSV passed as a file,
// computes a groupby with pandas, plots it; the step's result has the
// PNG (decoded: its size, not blank) and the table, in order.
func TestDataSession(t *testing.T) {
	needData(t)
	forEach(t, func(t *testing.T, b string) {
		m := newManager(t, b, nil)
		id := create(t, m, session.Spec{Language: "python", Runtime: "data",
			Files: []sandrun.InputFile{{Name: "sales.csv", Content: salesCSV}}})
		want(t, run(t, m, id, "import pandas as pd\nimport matplotlib.pyplot as plt\ndf = pd.read_csv('sales.csv')"), sandrun.StatusOK, "")
		res := run(t, m, id, "totals = df.groupby('region', as_index=False)['sales'].sum()\n"+
			"ax = totals.plot.bar(x='region', y='sales', legend=False)\nax.set_title('sales by region')\ntotals")
		want(t, res, sandrun.StatusOK, "")
		if len(res.Display) != 3 {
			t.Fatalf("display: %+v", res.Display)
		}
		text, html, fig := res.Display[0], res.Display[1], res.Display[2]
		// The last value first (shown when the code ended), then the
		// figure left open (rendered as the step closed).
		if text.MIME != display.Text || text.Source != "value" || !strings.Contains(text.Data, "north") || !strings.Contains(text.Data, "24") {
			t.Errorf("text: %+v", text)
		}
		if html.MIME != display.HTML || html.Output != text.Output || !strings.Contains(html.Data, "<table") || !strings.Contains(html.Data, "<td>24</td>") {
			t.Errorf("html: %+v", html)
		}
		if fig.MIME != display.PNG || fig.Source != "figure" || fig.Width != 640 || fig.Height != 480 || fig.Size < 1000 || display.Blank(fig) {
			t.Errorf("figure: %s %dx%d %d bytes blank=%v", fig.MIME, fig.Width, fig.Height, fig.Size, display.Blank(fig))
		}
		// Figures close with their step: the next step shows only its own;
		// a step that ends with a statement shows no value.
		res = run(t, m, id, "plt.plot([1, 2, 3]); plt.show()\nplt.figure(); plt.plot([3, 1])\nx = 1")
		want(t, res, sandrun.StatusOK, "")
		if len(res.Display) != 2 || res.Display[0].Output != 1 || res.Display[1].Output != 2 || res.Display[0].MIME != display.PNG {
			t.Errorf("second step: %+v", res.Display)
		}
		if res = run(t, m, id, "y = 2"); len(res.Display) != 0 {
			t.Errorf("a statement shows nothing: %+v", res.Display)
		}
	})
}

// Every python session shows its last value as a notebook does (text;
// HTML when the value has one); a failing repr is the step's exception.
func TestLastValueShown(t *testing.T) {
	forEach(t, func(t *testing.T, b string) {
		m := newManager(t, b, nil)
		id := create(t, m, session.Spec{Language: "python"})
		res := run(t, m, id, "x = 20\nx * 2 + 2")
		if len(res.Display) != 1 || res.Display[0].Data != "42" || res.Display[0].MIME != display.Text || res.Stdout != "" {
			t.Fatalf("%+v stdout %q", res.Display, res.Stdout)
		}
		res = run(t, m, id, "class H:\n    def _repr_html_(self): return '<b>h</b>'\n    def __repr__(self): return 'H()'\nH()")
		if len(res.Display) != 2 || res.Display[1].Data != "<b>h</b>" {
			t.Fatalf("%+v", res.Display)
		}
		res = run(t, m, id, "class Bad:\n    def __repr__(self): raise ValueError('no')\nBad()")
		if res.Status != sandrun.StatusExitError || !strings.Contains(res.Stderr, "ValueError: no") || len(res.Display) != 0 {
			t.Fatalf("%s %q %+v", res.Status, res.Stderr, res.Display)
		}
		if res = run(t, m, id, "None"); len(res.Display) != 0 {
			t.Fatalf("None shows nothing: %+v", res.Display)
		}
	})
}

// A REPL line (the console's sessions) echoes its value as python does,
// and gives its HTML, if it has one, to the display.
func TestInteractiveValueHTML(t *testing.T) {
	forEach(t, func(t *testing.T, b string) {
		m := newManager(t, b, nil)
		id := create(t, m, session.Spec{Language: "python"})
		res, err := m.Run(context.Background(), id, session.RunRequest{Code: "class H:\n    def _repr_html_(self): return '<b>h</b>'\n    def __repr__(self): return 'H()'\n", Interactive: true})
		if err != nil || res.Status != sandrun.StatusOK {
			t.Fatal(err, res.Stderr)
		}
		res, err = m.Run(context.Background(), id, session.RunRequest{Code: "H()", Interactive: true})
		if err != nil || res.Stdout != "H()\n" || len(res.Display) != 1 || res.Display[0].MIME != display.HTML || res.Display[0].Data != "<b>h</b>" {
			t.Fatalf("%v stdout %q display %+v", err, res.Stdout, res.Display)
		}
	})
}
