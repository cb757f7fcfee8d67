package sessionroute

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// replica is a test server that answers with its name, behind its router.
func replica(t *testing.T, name string, key []byte) (*Router, *httptest.Server) {
	t.Helper()
	mux := http.NewServeMux()
	var r *Router
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.WriteString(w, name+" "+req.PathValue("id")+" "+req.Header.Get("Authorization")+" "+req.Header.Get(ForwardedHeader))
	})
	mux.Handle("GET /v1/sessions/{id}", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { r.Wrap(h).ServeHTTP(w, req) }))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	var err error
	r, err = New(strings.TrimPrefix(srv.URL, "http://"), key)
	if err != nil {
		t.Fatal(err)
	}
	return r, srv
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer tok")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestForward: an id minted by A, asked of B, is served by A with the
// caller's credentials; A's own ids stay local; forged and foreign routes
// are never forwarded.
func TestForward(t *testing.T) {
	key := []byte("0123456789abcdef0123")
	a, as := replica(t, "A", key)
	_, bs := replica(t, "B", key)
	id := a.Prefix() + "abc"
	if code, body := get(t, bs.URL+"/v1/sessions/"+id); code != 200 || !strings.HasPrefix(body, "A "+id+" Bearer tok ") {
		t.Fatalf("through B: %d %q", code, body)
	}
	if _, body := get(t, as.URL+"/v1/sessions/"+id); body != "A "+id+" Bearer tok " {
		t.Fatalf("at A: %q", body)
	}
	if _, body := get(t, bs.URL+"/v1/sessions/plainid"); !strings.HasPrefix(body, "B plainid") {
		t.Fatalf("unrouted id: %q", body)
	}
	// A route signed with another key (or forged) is served locally.
	other, err := New(strings.TrimPrefix(as.URL, "http://"), []byte("another key, 16+ bytes"))
	if err != nil {
		t.Fatal(err)
	}
	if _, body := get(t, bs.URL+"/v1/sessions/"+other.Prefix()+"x"); !strings.HasPrefix(body, "B ") {
		t.Fatalf("foreign route forwarded: %q", body)
	}
	if _, ok := a.Owner("r" + strings.Repeat("0", 10) + "-0000000000000000-x"); ok {
		t.Fatal("a forged route verified")
	}
	// A gone replica: 502, not a hang; no second hop.
	gone, _ := New("127.0.0.1:1", key)
	if code, body := get(t, bs.URL+"/v1/sessions/"+gone.Prefix()+"x"); code != http.StatusBadGateway || !strings.Contains(body, "replica_unreachable") {
		t.Fatalf("gone replica: %d %q", code, body)
	}
	if _, err := New("nohostport", key); err == nil {
		t.Fatal("a bad address was accepted")
	}
	if _, err := New("h:1", []byte("short")); err == nil {
		t.Fatal("a short key was accepted")
	}
}
