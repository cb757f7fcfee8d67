//go:build linux

package jail_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/analyze"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/internal/display"
	"github.com/sandrun/sandrun/lang"
)

// dataJail is the shared jail (cold) or warm jail, behind the run
// pipeline (which gives a runtime its display module), when the data
// runtime is installed.
func dataJail(t *testing.T, warm bool) (*sandrun.Sandbox, *jail.Backend) {
	t.Helper()
	b := backend(t)
	if err := b.Check(context.Background(), lang.PythonData); err != nil {
		skip(t, "the data runtime is not installed (scripts/setup.d/30-data.sh): %v", err)
	}
	if warm {
		b = warmBackend(t)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := b.WarmReady(ctx, lang.PythonData); err != nil {
			t.Fatal(err)
		}
	}
	s, err := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{b}, Imports: analyze.ImportFinder{}})
	if err != nil {
		t.Fatal(err)
	}
	return s, b
}

const plotProgram = `import pandas as pd, matplotlib.pyplot as plt
df = pd.read_csv("sales.csv")
totals = df.groupby("region")["sales"].sum()
print(totals.to_dict())
totals.plot.bar(title="sales")
plt.show()
plt.figure(figsize=(4, 3)); plt.plot([1, 3, 2])
`

// Figures come back from the jail, cold and warm alike: shown or left
// open, in order, decodable, not blank; the program saved nothing.
func TestDataFigures(t *testing.T) {
	for _, warm := range []bool{false, true} {
		t.Run(map[bool]string{false: "cold", true: "warm"}[warm], func(t *testing.T) {
			s, b := dataJail(t, warm)
			before := b.WarmStats().Forked
			res, err := s.Run(context.Background(), &sandrun.Request{Language: "python", Code: plotProgram,
				Files:         []sandrun.InputFile{{Name: "sales.csv", Content: "region,sales\nnorth,3\nsouth,4\nnorth,5\n"}},
				FigureFormats: []string{"png", "svg"}})
			if err != nil || res.Status != sandrun.StatusOK || res.Language != lang.PythonData {
				t.Fatalf("%v %s %s: %s %s", err, res.Language, res.Status, res.Stderr, res.Error)
			}
			if served := b.WarmStats().Forked > before; served != warm {
				t.Errorf("served by a zygote: %v, want %v", served, warm)
			}
			if res.Stdout != "{'north': 8, 'south': 4}\n" || res.Stderr != "" {
				t.Errorf("stdout %q stderr %q", res.Stdout, res.Stderr)
			}
			if len(res.Display) != 4 {
				t.Fatalf("%d items: %+v", len(res.Display), res.Warnings)
			}
			first, second := res.Display[0], res.Display[2]
			if first.MIME != display.PNG || first.Output != 1 || first.Width != 640 || display.Blank(first) ||
				second.Output != 2 || second.Width != 400 || second.Height != 300 || display.Blank(second) ||
				res.Display[1].MIME != display.SVG || !strings.HasPrefix(strings.TrimSpace(res.Display[3].Data), "<?xml") {
				t.Errorf("items: %s %dx%d, %s %dx%d", first.MIME, first.Width, first.Height, second.MIME, second.Width, second.Height)
			}
		})
	}
}

// A plot of ten million points under a 256 MiB limit ends memory_limit,
// not a hung renderer nor a crash reported as something else; so does
// one of four million, whose series and line fit and whose rendering
// (at show()) does not.
func TestDataPlotOverMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: fills 256 MiB")
	}
	for _, warm := range []bool{false, true} {
		for _, n := range []string{"10_000_000", "4_000_000"} {
			t.Run(map[bool]string{false: "cold", true: "warm"}[warm]+"/"+n, func(t *testing.T) {
				s, _ := dataJail(t, warm)
				res, _ := s.Run(context.Background(), &sandrun.Request{Language: lang.PythonData,
					Code: "import numpy as np, matplotlib.pyplot as plt\nx = np.random.default_rng(1).standard_normal(" + n + ")\n" +
						"print('series', flush=True)\nplt.plot(x)\nprint('plotted', flush=True)\nplt.show()\nprint('shown')\n",
					Limits: sandrun.Limits{Memory: 256 << 20, WallTime: sandrun.Duration(2 * time.Minute)}})
				if res.Status != sandrun.StatusMemoryLimit || strings.Contains(res.Stdout, "shown") {
					t.Fatalf("%s (%s): stdout %q stderr %q", res.Status, res.Error, res.Stdout, res.Stderr)
				}
				t.Logf("%s after %d ms, peak %d MiB, got to %q", res.Status, res.Usage.WallMs, res.Usage.MemoryPeakBytes>>20, res.Stdout)
			})
		}
	}
}
