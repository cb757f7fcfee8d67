package docker_test

import (
	"context"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/display"
	"github.com/sandrun/sandrun/lang"
)

// The data runtime in the image: pandas and matplotlib import, and the
// figure comes back through the pipeline as on the other tiers (the
// display module and the runtime's variables travel with the request).
func TestDataFigure(t *testing.T) {
	b := need(t, lang.PythonData)
	s, err := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{b}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(context.Background(), &sandrun.Request{Language: lang.PythonData,
		Code:   "import pandas as pd, matplotlib.pyplot as plt\nprint(pd.Series([2, 3]).sum())\nplt.plot([1, 3, 2])\n",
		Limits: sandrun.Limits{Memory: 512 << 20, WallTime: sandrun.Duration(2 * time.Minute)}})
	if err != nil || res.Status != sandrun.StatusOK || res.Stdout != "5\n" {
		t.Fatalf("%v %s %q %q", err, res.Status, res.Stdout, res.Stderr)
	}
	if len(res.Display) != 1 || res.Display[0].MIME != display.PNG || res.Display[0].Width != 640 || display.Blank(res.Display[0]) {
		t.Fatalf("display %+v warnings %q", res.Display, res.Warnings)
	}
	if len(res.Files) != 0 {
		t.Errorf("files %+v", res.Files)
	}
}
