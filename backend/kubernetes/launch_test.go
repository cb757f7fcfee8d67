package kubernetes

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/session"
)

// TestSession: a session's interpreter lives in a pod: state persists
// between steps, a step past its timeout is interrupted (SIGINT through an
// exec) and the session lives on, closing it deletes the pod.
func TestSession(t *testing.T) {
	b := clusterBackend(t, Options{})
	sb, err := sandrun.New(sandrun.Options{Backends: []sandrun.Backend{b}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := session.New(session.Options{Sandbox: sb, Launchers: map[string]sandrun.Launcher{Name: b}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown()
	in, err := m.Create(t.Context(), session.Spec{Language: "python", Backend: Name})
	if err != nil {
		t.Fatal(err)
	}
	step := func(code string, timeout time.Duration) *sandrun.Result {
		t.Helper()
		res, err := m.Run(t.Context(), in.ID, session.RunRequest{Code: code, Timeout: sandrun.Duration(timeout)})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := step("x = 41", 0); res.Status != sandrun.StatusOK {
		t.Fatalf("%s %s", res.Status, res.Error)
	}
	if res := step("print(x + 1)", 0); res.Status != sandrun.StatusOK || res.Stdout != "42\n" {
		t.Fatalf("%s %q %s", res.Status, res.Stdout, res.Error)
	}
	if res := step("while True: pass", 2*time.Second); res.Status != sandrun.StatusTimeout {
		t.Fatalf("interrupt: %s %s", res.Status, res.Error)
	}
	if res := step("print('alive', x)", 0); res.Status != sandrun.StatusOK || res.Stdout != "alive 41\n" {
		t.Fatalf("after the interrupt: %s %q %s", res.Status, res.Stdout, res.Error)
	}
	if _, err := m.Close(in.ID); err != nil {
		t.Fatal(err)
	}
	st, _ := b.state(t.Context())
	end := time.Now().Add(30 * time.Second)
	for {
		pods, _ := st.api.listPods(t.Context(), labelOwner+"="+b.ownerID)
		live := 0
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				live++
			}
		}
		if live == 0 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("%d pods left after the session closed", live)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A launched process that blows its memory limit: memory_limit.
	p, err := b.Launch(t.Context(), &sandrun.LaunchSpec{Language: "python",
		Args:   []string{"-c", "x = []\nwhile True: x.append(bytearray(8 << 20))"},
		Limits: sandrun.Limits{Memory: 64 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, p.Stdout())
	go io.Copy(io.Discard, p.Stderr())
	ex, err := p.Wait()
	if err != nil || ex.Status != sandrun.StatusMemoryLimit {
		t.Fatalf("memory: %+v %v", ex, err)
	}
	if !strings.Contains(ex.Error, "memory") {
		t.Fatalf("message %q", ex.Error)
	}
}
