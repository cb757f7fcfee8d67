package pool_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/pool"
	"github.com/sandrun/sandrun/session"
	"github.com/sandrun/sandrun/session/sessiontest"
)

// postureProbe reports, from inside, what confines the interpreter.
const postureProbe = `
import json, os
st = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines() if ':' in l)
def can(f):
    try:
        f()
        return True
    except Exception:
        return False
ifaces = sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').read().splitlines()[2:])
print(json.dumps({
    "uid": os.getuid(),
    "seccomp": st["Seccomp"].strip(),
    "no_new_privs": st["NoNewPrivs"].strip(),
    "cap_eff": st["CapEff"].strip(),
    "cap_bnd": st["CapBnd"].strip(),
    "ifaces": ifaces,
    "read_shadow": can(lambda: open('/etc/shadow').read()),
    "write_usr": can(lambda: open('/usr/sandrun-probe', 'w')),
    "pids_visible": len([p for p in os.listdir('/proc') if p.isdigit()]) < 16,
    "cwd": os.getcwd(),
    "cgroup_memory_limited": open('/proc/self/cgroup').read().strip() != '0::/',
}, sort_keys=True))
`

// TestPosture: a pooled interpreter and a session interpreter are
// confined exactly as a one-shot run of the same tier is.
func TestPosture(t *testing.T) {
	for _, name := range sessiontest.Backends() {
		if !sessiontest.IsBoundary(name) {
			continue
		}
		t.Run(name, func(t *testing.T) {
			l := sessiontest.Launcher(t, name)
			oneShot, ok := l.(sandrun.Backend)
			if !ok {
				t.Fatalf("%s launcher is not a backend", name)
			}
			decode := func(where string, res *sandrun.Result, err error) map[string]any {
				t.Helper()
				if err != nil || res.Status != sandrun.StatusOK {
					t.Fatalf("%s: %v %+v", where, err, res)
				}
				var v map[string]any
				if err := json.Unmarshal([]byte(res.Stdout), &v); err != nil {
					t.Fatalf("%s: %q: %v", where, res.Stdout, err)
				}
				return v
			}
			req := &sandrun.Request{Language: "python", Code: postureProbe, Limits: sandrun.DefaultLimits()}
			res, err := oneShot.Run(context.Background(), req)
			want := decode("one-shot", res, err)
			t.Logf("one-shot posture: %v", want)
			if want["seccomp"] != "2" || want["no_new_privs"] != "1" || want["read_shadow"] != false || want["write_usr"] != false {
				t.Fatalf("the one-shot baseline itself is not confined: %v", want)
			}

			p, err := pool.New(pool.Config{Launcher: l, Sizes: map[string]int{"python": 1}})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			waitReady(t, p, "python", 1)
			res, err = p.Run(context.Background(), req)
			got := decode("pool", res, err)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("pooled posture differs:\n got %v\nwant %v", got, want)
			}
			if st := p.Stats(); st.Hits != 1 {
				t.Errorf("the probe did not run on a warm interpreter: %+v", st)
			}

			m, err := session.New(session.Options{Sandbox: sessiontest.Sandbox(t, sandrun.Options{}), Launchers: map[string]sandrun.Launcher{name: l}})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Shutdown()
			in, err := m.Create(context.Background(), session.Spec{Language: "python"})
			if err != nil {
				t.Fatal(err)
			}
			res, err = m.Run(context.Background(), in.ID, session.RunRequest{Code: postureProbe})
			got = decode("session", res, err)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("session posture differs:\n got %v\nwant %v", got, want)
			}
		})
	}
}
