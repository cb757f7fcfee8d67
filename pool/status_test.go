package pool_test

import (
	"testing"

	"github.com/sandrun/sandrun"
)

// TestWarmStatus: per language, the pool says how many interpreters wait
// and what became of each run: served warm, or cold and why (limits past
// the ceiling; in program mode, a memory limit other than the
// ceiling's). Issue: the warm path was invisible in /v1/status and
// `sandrun doctor`.
func TestWarmStatus(t *testing.T) {
	p := newPool(t, "process", map[string]int{"python": 1, "javascript": 1})
	waitReady(t, p, "python", 1)
	waitReady(t, p, "javascript", 1)
	st := p.WarmStatus()
	if py := st["python"]; py.Kind != sandrun.WarmPrestarted || py.Tier != "process" || py.Ready != 1 || py.Warm != 0 || len(py.Cold) != 0 {
		t.Fatalf("before any run: %+v", st)
	}
	if res := runOK(t, p, &sandrun.Request{Language: "python", Code: "print(1)"}); res.Status != sandrun.StatusOK {
		t.Fatalf("%s %q", res.Status, res.Error)
	}
	big := sandrun.DefaultLimits().WithDefaults()
	big.Memory *= 2
	if res := runOK(t, p, &sandrun.Request{Language: "python", Code: "print(2)", Limits: big}); res.Status != sandrun.StatusOK {
		t.Fatalf("%s %q", res.Status, res.Error)
	}
	small := sandrun.DefaultLimits().WithDefaults()
	small.Memory /= 2
	waitReady(t, p, "javascript", 1)
	if res := runOK(t, p, &sandrun.Request{Language: "javascript", Code: "console.log(3)", Limits: small}); res.Status != sandrun.StatusOK {
		t.Fatalf("%s %q", res.Status, res.Error)
	}
	st = p.WarmStatus()
	py, js := st["python"], st["javascript"]
	if py.Warm != 1 || py.Cold["limits"] != 1 || len(py.Cold) != 1 || js.Warm != 0 || js.Cold["memory"] != 1 || len(js.Cold) != 1 {
		t.Fatalf("after a warm python run, one past the ceiling and a javascript run with less memory: %+v", st)
	}
	if s := p.Stats(); s.Hits != 1 || s.Misses != 2 {
		t.Fatalf("stats %+v: want 1 hit, 2 misses", s)
	}
}
