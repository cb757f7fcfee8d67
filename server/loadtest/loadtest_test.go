package loadtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/server/loadtest"
)

// A fake server that answers every 10th run with the previous run's
// output, and every 25th with a 500 (50 and 100 are both): the load
// tool must count 8 mixed, 4 errors.
func TestDetectsMixedAndLost(t *testing.T) {
	var n atomic.Int64
	var prev atomic.Value
	prev.Store("")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req sandrun.Request
		_ = json.NewDecoder(r.Body).Decode(&req)
		i := n.Add(1)
		// The bash program is: read -r x; echo "MARKER:$x"
		marker := strings.TrimSuffix(strings.SplitN(req.Code, "echo \"", 2)[1], ":$x\"")
		out := marker + ":" + strings.TrimSpace(req.Stdin) + "\n"
		if i%25 == 0 {
			http.Error(w, "boom", 500)
			return
		}
		if i%10 == 0 {
			out = prev.Load().(string)
		}
		prev.Store(out)
		_ = json.NewEncoder(w).Encode(sandrun.Result{ID: fmt.Sprint(i), Status: sandrun.StatusOK, Stdout: out})
	}))
	defer srv.Close()
	rep, err := loadtest.Run(context.Background(), loadtest.Options{URL: srv.URL, N: 100, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Mixed != 8 || rep.Errors != 4 || rep.OK != 88 || rep.Clean() {
		t.Fatalf("%v", rep)
	}
}
