package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/session"
	"github.com/sandrun/sandrun/session/sessionhttp"
	"github.com/sandrun/sandrun/session/sessiontest"
)

func TestSessionCommands(t *testing.T) {
	m, err := session.New(session.Options{Sandbox: sessiontest.Sandbox(t, sandrun.Options{}), Launchers: map[string]sandrun.Launcher{"process": sessiontest.Launcher(t, "process")}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown()
	mux := http.NewServeMux()
	mux.Handle("/v1/sessions", sessionhttp.Handler(m, sessionhttp.Options{}))
	mux.Handle("/v1/sessions/", sessionhttp.Handler(m, sessionhttp.Options{}))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	cli := func(stdin string, args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := Main(context.Background(), &cliEnv{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}, append(args, "--server", srv.URL))
		return out.String(), errb.String(), code
	}
	id, errs, code := cli("", "session", "create", "--lang", "python", "--memory", "128MiB")
	id = strings.TrimSpace(id)
	if code != 0 || len(id) != 32 {
		t.Fatalf("create: %d %q %q", code, id, errs)
	}
	if _, errs, code := cli("", "session", "run", id, "-c", "v = 'kept'"); code != 0 {
		t.Fatalf("run: %d %q", code, errs)
	}
	if out, errs, code := cli("print(v)\n", "session", "run", id, "-"); code != 0 || out != "kept\n" {
		t.Fatalf("run from stdin: %d %q %q", code, out, errs)
	}
	if _, _, code := cli("", "session", "run", id, "-c", "import sys; sys.exit(3)"); code != 3 {
		t.Fatalf("exit code %d, want 3", code)
	}
	if out, _, code := cli("", "session", "list"); code != 0 || !strings.Contains(out, id) {
		t.Fatalf("list: %d %q", code, out)
	}
	if out, _, code := cli("", "session", "close", id); code != 0 || !strings.Contains(out, `"closed"`) {
		t.Fatalf("close: %d %q", code, out)
	}
	if _, errs, code := cli("", "session", "run", id, "-c", "1"); code != 1 || !strings.Contains(errs, "no such session") {
		t.Fatalf("run after close: %d %q", code, errs)
	}
	// --network reaches the server, which refuses it on a tier that cannot
	// hold the proxy; a malformed one is a usage error.
	if _, errs, code := cli("", "session", "create", "--network", "allow:hosta.test:443"); code != 1 || !strings.Contains(errs, "network") || !strings.Contains(errs, "process tier cannot enforce") {
		t.Fatalf("create --network on the process tier: %d %q", code, errs)
	}
	if _, errs, code := cli("", "session", "create", "--network", "allow:hosta.test"); code != 2 || !strings.Contains(errs, "--network") {
		t.Fatalf("create --network without a port: %d %q", code, errs)
	}
}
