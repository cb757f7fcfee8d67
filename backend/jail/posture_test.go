//go:build linux

package jail_test

import (
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/jail"
)

// postureProbe runs inside the jail and reports what the program sees;
// the test checks it from the host (docs/hardening.md, "Posture check").
const postureProbe = `
import json, os, socket
st = {}
for line in open("/proc/self/status"):
    k, _, v = line.partition(":")
    st[k] = v.strip()
def tryw(p):
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)
        os.close(fd)
        return "ok"
    except OSError as e:
        return e.strerror
ifaces = [l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:]]
print(json.dumps({
    "status": {k: st.get(k) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "Seccomp", "NoNewPrivs", "Uid", "Gid", "Groups")},
    "uid_map": open("/proc/self/uid_map").read().split(),
    "gid_map": open("/proc/self/gid_map").read().split(),
    "setgroups": open("/proc/self/setgroups").read().strip(),
    "fds": sorted(int(x) for x in os.listdir("/proc/self/fd")),
    "env": dict(os.environ),
    "pids": sorted(int(x) for x in os.listdir("/proc") if x.isdigit()),
    "mypid": os.getpid(),
    "sys": os.path.exists("/sys"),
    "root_write": tryw("/probe"),
    "usr_write": tryw("/usr/probe"),
    "etc_write": tryw("/etc/probe"),
    "work_write": tryw("/work/probe"),
    "tmp_write": tryw("/tmp/probe"),
    "ifaces": ifaces,
    "hostname": socket.gethostname(),
    "sid": os.getsid(0) == os.getpid(),
    "cwd": os.getcwd(),
    "dev": sorted(os.listdir("/dev")),
    "cgroup": open("/proc/self/cgroup").read(),
    "limits": {l[:26].strip(): l[26:47].split()[0] for l in open("/proc/self/limits").readlines()[1:]},
}))
`

type posture struct {
	Status    map[string]string `json:"status"`
	UIDMap    []string          `json:"uid_map"`
	GIDMap    []string          `json:"gid_map"`
	Setgroups string            `json:"setgroups"`
	Fds       []int             `json:"fds"`
	Env       map[string]string `json:"env"`
	Pids      []int             `json:"pids"`
	MyPid     int               `json:"mypid"`
	Sys       bool              `json:"sys"`
	RootWrite string            `json:"root_write"`
	UsrWrite  string            `json:"usr_write"`
	EtcWrite  string            `json:"etc_write"`
	WorkWrite string            `json:"work_write"`
	TmpWrite  string            `json:"tmp_write"`
	Ifaces    []string          `json:"ifaces"`
	Hostname  string            `json:"hostname"`
	Sid       bool              `json:"sid"`
	Cwd       string            `json:"cwd"`
	Dev       []string          `json:"dev"`
	Cgroup    string            `json:"cgroup"`
	Limits    map[string]string `json:"limits"`
}

func TestPosture(t *testing.T) { checkPosture(t, backend(t)) }

// checkPosture runs the probe on b and checks what it saw.
func checkPosture(t *testing.T, b *jail.Backend) {
	// A secret in the supervisor's environment must not reach the program.
	t.Setenv("SANDRUN_TEST_SECRET", "hunter2")
	res := run(t, b, "python", postureProbe, func(r *sandrun.Request) { r.Env = map[string]string{"ALLOWED": "yes"} })
	if res.Status != sandrun.StatusOK {
		t.Fatalf("probe: %s %s\n%s", res.Status, res.Error, res.Stderr)
	}
	t.Logf("probe: %s", res.Stdout)
	var p posture
	if err := json.Unmarshal([]byte(res.Stdout), &p); err != nil {
		t.Fatalf("probe output: %v\n%s", err, res.Stdout)
	}
	for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		if p.Status[k] != "0000000000000000" {
			t.Errorf("%s = %s, want all zero", k, p.Status[k])
		}
	}
	if p.Status["Seccomp"] != "2" {
		t.Errorf("Seccomp = %s, want 2 (filter)", p.Status["Seccomp"])
	}
	if p.Status["NoNewPrivs"] != "1" {
		t.Errorf("NoNewPrivs = %s, want 1", p.Status["NoNewPrivs"])
	}
	if f := strings.Fields(p.Status["Uid"]); len(f) != 4 || f[0] != "1000" || f[1] != "1000" || f[2] != "1000" || f[3] != "1000" {
		t.Errorf("Uid = %q, want 1000 everywhere", p.Status["Uid"])
	}
	if p.Status["Groups"] != "" {
		t.Errorf("Groups = %q, want none", p.Status["Groups"])
	}
	// One uid inside, mapped to one host uid that is not root (and, as
	// root, not the supervisor's own uid either).
	for name, m := range map[string][]string{"uid_map": p.UIDMap, "gid_map": p.GIDMap} {
		if len(m) != 3 || m[0] != "1000" || m[2] != "1" || m[1] == "0" {
			t.Errorf("%s = %v, want one line: 1000 <unused host id> 1", name, m)
		}
		if os.Geteuid() == 0 && len(m) == 3 && m[1] == "0" {
			t.Errorf("%s maps to host root", name)
		}
	}
	if p.Setgroups != "deny" {
		t.Errorf("setgroups = %q, want deny", p.Setgroups)
	}
	// listdir itself opens one fd: 0, 1, 2 and that one.
	if len(p.Fds) != 4 || p.Fds[0] != 0 || p.Fds[1] != 1 || p.Fds[2] != 2 {
		t.Errorf("fds = %v, want 0, 1, 2 (and listdir's own)", p.Fds)
	}
	var keys []string
	for k := range p.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if got := strings.Join(keys, ","); got != "ALLOWED,HOME,LANG,PATH,TMPDIR" {
		t.Errorf("env keys = %s, want exactly ALLOWED,HOME,LANG,PATH,TMPDIR", got)
	}
	if len(p.Pids) != 2 || p.Pids[0] != 1 || p.Pids[1] != p.MyPid {
		t.Errorf("pids in /proc = %v, want the init (1) and the program (%d)", p.Pids, p.MyPid)
	}
	if p.Sys {
		t.Error("/sys is visible")
	}
	for name, got := range map[string]string{"/": p.RootWrite, "/usr": p.UsrWrite, "/etc": p.EtcWrite} {
		if got != "Read-only file system" && got != "Permission denied" {
			t.Errorf("writing under %s: %s, want read-only", name, got)
		}
	}
	if p.WorkWrite != "ok" || p.TmpWrite != "ok" {
		t.Errorf("writing /work: %s, /tmp: %s, want ok", p.WorkWrite, p.TmpWrite)
	}
	if len(p.Ifaces) != 1 || p.Ifaces[0] != "lo" {
		t.Errorf("network interfaces = %v, want only lo", p.Ifaces)
	}
	if p.Hostname != "sandrun" {
		t.Errorf("hostname = %q", p.Hostname)
	}
	if !p.Sid {
		t.Error("the program does not lead its own session")
	}
	if p.Cwd != "/work" {
		t.Errorf("cwd = %s", p.Cwd)
	}
	if got := strings.Join(p.Dev, ","); got != "fd,full,null,random,shm,stderr,stdin,stdout,urandom,zero" {
		t.Errorf("/dev = %s", got)
	}
	if strings.TrimSpace(p.Cgroup) != "0::/" && !strings.Contains(p.Cgroup, ":/\n") {
		t.Errorf("/proc/self/cgroup shows host paths: %q", p.Cgroup)
	}
	for k, want := range map[string]string{"Max core file size": "0", "Max open files": "256", "Max file size": "16777216", "Max stack size": "8388608", "Max cpu time": "5"} {
		if p.Limits[k] != want {
			t.Errorf("%s = %q, want %s", k, p.Limits[k], want)
		}
	}
	if _, ok := p.Env["SANDRUN_TEST_SECRET"]; ok {
		t.Error("supervisor env leaked")
	}
}
