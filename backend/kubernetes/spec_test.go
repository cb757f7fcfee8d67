package kubernetes

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	corev1 "k8s.io/api/core/v1"
)

// TestPodHardening checks every protection of the run pod's spec.
func TestPodHardening(t *testing.T) {
	sec, err := seccompProfile(SeccompLocalhostDefault)
	if err != nil {
		t.Fatal(err)
	}
	o := &owner{id: "abc", name: "sandrun-owner-abc", uid: "u-1"}
	p := pod(podParams{name: "p", owner: o, cpus: 0.5, uid: 123456789, seccomp: sec, deadline: 40,
		shape: shape{Language: "python", Image: "img:1", Memory: 64 << 20, WorkDir: 8 << 20}})
	s := p.Spec
	c := s.Containers[0]
	check := func(what string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("%s", what)
		}
	}
	check("no service-account token", s.AutomountServiceAccountToken != nil && !*s.AutomountServiceAccountToken)
	check("no service links", s.EnableServiceLinks != nil && !*s.EnableServiceLinks)
	check("no host namespaces", !s.HostNetwork && !s.HostPID && !s.HostIPC)
	check("no shared pid namespace", s.ShareProcessNamespace != nil && !*s.ShareProcessNamespace)
	check("restart never", s.RestartPolicy == corev1.RestartPolicyNever)
	check("deadline", s.ActiveDeadlineSeconds != nil && *s.ActiveDeadlineSeconds == 40)
	check("no cluster DNS", s.DNSPolicy == corev1.DNSNone)
	check("pod non-root", s.SecurityContext.RunAsNonRoot != nil && *s.SecurityContext.RunAsNonRoot)
	check("pod uid", *s.SecurityContext.RunAsUser == 123456789 && *s.SecurityContext.RunAsGroup == 123456789)
	check("pod seccomp localhost", s.SecurityContext.SeccompProfile.Type == corev1.SeccompProfileTypeLocalhost &&
		*s.SecurityContext.SeccompProfile.LocalhostProfile == "sandrun/run.json")
	sc := c.SecurityContext
	check("container non-root", *sc.RunAsNonRoot && *sc.RunAsUser == 123456789)
	check("not privileged", sc.Privileged != nil && !*sc.Privileged)
	check("no privilege escalation", sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation)
	check("read-only root", sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem)
	check("all capabilities dropped", len(sc.Capabilities.Drop) == 1 && sc.Capabilities.Drop[0] == "ALL" && len(sc.Capabilities.Add) == 0)
	check("container seccomp", sc.SeccompProfile != nil && sc.SeccompProfile.Type == corev1.SeccompProfileTypeLocalhost)
	check("memory limit = request", c.Resources.Limits.Memory().Value() == 64<<20 && c.Resources.Requests.Memory().Value() == 64<<20)
	check("cpu limit", c.Resources.Limits.Cpu().MilliValue() == 500)
	check("ephemeral storage limit", !c.Resources.Limits.StorageEphemeral().IsZero())
	check("stdin once", c.Stdin && c.StdinOnce && !c.TTY)
	for _, v := range s.Volumes {
		check("volume "+v.Name+" is a size-capped memory emptyDir", v.EmptyDir != nil && v.HostPath == nil &&
			v.EmptyDir.Medium == corev1.StorageMediumMemory && v.EmptyDir.SizeLimit.Value() <= 8<<20)
	}
	check("three volumes", len(s.Volumes) == 3)
	check("/sys masked", len(c.VolumeMounts) == 3 && c.VolumeMounts[2].MountPath == "/sys" && c.VolumeMounts[2].ReadOnly)
	check("labels", p.Labels[labelOwner] == "abc" && p.Labels[labelRole] == roleRun && p.Labels[labelManagedBy] == managedBy)
	check("owner reference", len(p.OwnerReferences) == 1 && p.OwnerReferences[0].UID == "u-1" && p.OwnerReferences[0].Kind == "ConfigMap")
	check("cold pod has no pool label", p.Labels[labelPool] == "")

	np := denyAll(o)
	check("policy denies both ways", len(np.Spec.PolicyTypes) == 2 && len(np.Spec.Ingress) == 0 && len(np.Spec.Egress) == 0)
	check("policy selects the owner's run pods", np.Spec.PodSelector.MatchLabels[labelOwner] == "abc")
	check("policy owned", len(np.OwnerReferences) == 1)

	if _, err := seccompProfile("localhost/../etc/x"); err == nil {
		t.Error("a profile outside the seccomp directory was accepted")
	}
	if _, err := seccompProfile("unconfined"); err == nil {
		t.Error("unconfined was accepted")
	}
	if r := runUID(); r < 1<<24 {
		t.Errorf("uid %d in the range of real users", r)
	}
}

// TestControlScript runs the control script's quoting through a real
// shell: every byte but NUL survives.
func TestControlScript(t *testing.T) {
	for _, s := range []string{"", "plain", "it's", `a'b"c$d` + "`e`\\f\ng", "'''", "$(id)", "-n"} {
		out, err := exec.Command("/bin/sh", "-c", "printf '%s' "+quote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("quote(%q) gave %q, %v", s, out, err)
		}
	}
	im, _ := imageOf("python")
	req := &sandrun.Request{Language: "python", Code: "print(1)", Args: []string{"a b", "it's"},
		Env: map[string]string{"X": "1 2", "LANG": "C"}, Limits: sandrun.Limits{}.WithDefaults()}
	argv := imageCommand(im, int64(req.Limits.Memory), req.Args)
	ctl := controlScript(argv, req, "<<m>>", true)
	for _, want := range []string{"prlimit --cpu=5:6 ", "--nproc=64", "'X=1 2'", "'LANG=C'", "'/usr/bin/python3'", "'a b'", `'it'\''s'`} {
		if !strings.Contains(ctl, want) {
			t.Errorf("control script lacks %q:\n%s", want, ctl)
		}
	}
	if strings.Contains(ctl, "LANG=C.UTF-8") {
		t.Error("the request's LANG did not replace the base one")
	}
	if strings.Contains(ctl, "tar -c") {
		t.Error("archive without collect")
	}
	req.Collect = []string{"*.txt"}
	if !strings.Contains(controlScript(argv, req, "<<m>>", true), "tar -c") {
		t.Error("no archive with collect")
	}
}

// TestBootProtocol runs the boot script and the control script in a local
// shell, with /work replaced by a temp dir: the work dir is unpacked, the
// program sees its args, env and stdin, and the trailer follows the mark.
func TestBootProtocol(t *testing.T) {
	for _, tool := range []string{"prlimit", "tar", "env", "head"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s: %v", tool, err)
		}
	}
	im, _ := imageOf("bash")
	dir := t.TempDir()
	req := &sandrun.Request{Language: "bash", Code: `echo "args:$1|$2"; echo "env:$X|$HOME"; cat data/in.txt; read -r l; echo "stdin:$l"; echo out > o.txt; exit 3`,
		Args: []string{"a b", "it's"}, Env: map[string]string{"X": "x'y"}, Stdin: "line one\n",
		Files:   []sandrun.InputFile{{Name: "data/in.txt", Content: "file body\n"}},
		Collect: []string{"*.txt"}, Limits: sandrun.Limits{}.WithDefaults()}
	in, err := payload(im.FileName, imageCommand(im, 0, req.Args), req, "<<MARK>>", true)
	if err != nil {
		t.Fatal(err)
	}
	script := strings.ReplaceAll(bootScript, "eval \"$ctl\"", `ctl=$(printf '%s' "$ctl" | sed "s#/work#`+dir+`#g; s#/dev/shm#`+dir+`#g; s#HOME=`+dir+`#HOME=/work#; s#^kill -9 -1.*##")
eval "$ctl"`)
	cmd := exec.Command("/bin/sh", "-c", script, "sandrun-boot")
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("exit %v, output %q", err, out)
	}
	before, after, ok := strings.Cut(string(out), "<<MARK>>")
	if !ok {
		t.Fatalf("no mark: %q", out)
	}
	want := "args:a b|it's\nenv:x'y|/work\nfile body\nstdin:line one\n"
	if before != want {
		t.Fatalf("program output %q, want %q", before, want)
	}
	tr, archive, ok := parseTrailer([]byte(after))
	if !ok || tr.Status != 3 {
		t.Fatalf("trailer %+v %v in %q", tr, ok, after)
	}
	if !strings.Contains(string(archive), "out\n") {
		t.Fatalf("archive lacks o.txt")
	}
	if _, err := os.Stat(dir + "/main.sh"); err != nil {
		t.Fatal(err)
	}
}

func TestParseTrailer(t *testing.T) {
	tr, rest, ok := parseTrailer([]byte("status 137\n0m0.010000s 0m0.002000s\n1m1.500000s 0m0.250000s\nend\nTAR"))
	if !ok || tr.Status != 137 || tr.CPU != 61750*time.Millisecond || string(rest) != "TAR" {
		t.Fatalf("%+v %q %v", tr, rest, ok)
	}
	for _, bad := range []string{"", "status x\nend\n", "status 1\n0m0s 0m0s\n", "garbage"} {
		if _, _, ok := parseTrailer([]byte(bad)); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestStaleOwner(t *testing.T) {
	now := time.Now()
	fresh := now.UTC().Format(time.RFC3339)
	old := now.Add(-time.Hour).UTC().Format(time.RFC3339)
	self := holderID()
	host, _, _ := strings.Cut(self, ":")
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadHolder := host + ":" + strconv.Itoa(dead.Process.Pid)
	cases := []struct {
		holder, beat string
		stale        bool
	}{
		{self, old, false},                      // ourselves, whatever the beat
		{deadHolder, fresh, true},               // this host, process gone
		{host + ":1", fresh, false},             // this host, process alive
		{"elsewhere@1:42", fresh, false},        // another host, heartbeat fresh
		{"elsewhere@1:42", old, true},           // another host, heartbeat silent
		{"elsewhere@1:42", "not a time", false}, // unknown: keep
	}
	for _, c := range cases {
		if got := staleOwner(c.holder, c.beat, host, self, 2*time.Minute, now); got != c.stale {
			t.Errorf("staleOwner(%q, %q) = %v", c.holder, c.beat, got)
		}
	}
}

func TestOptionsFromEnv(t *testing.T) {
	env := map[string]string{
		"SANDRUN_KUBE_NAMESPACE": "runs", "SANDRUN_KUBE_IMAGES": "python=reg/py:1, bash=reg/sh:1",
		"SANDRUN_KUBE_POOL": "python=2", "SANDRUN_KUBE_CPUS": "0.5", "SANDRUN_KUBE_SECCOMP": "runtime/default",
	}
	o, err := OptionsFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if o.Namespace != "runs" || o.Images["bash"] != "reg/sh:1" || o.Pool["python"] != 2 || o.CPUs != 0.5 || o.Seccomp != SeccompRuntimeDefault {
		t.Fatalf("%+v", o)
	}
	for k, v := range map[string]string{"SANDRUN_KUBE_POOL": "python=x", "SANDRUN_KUBE_IMAGES": "python",
		"SANDRUN_KUBE_CPUS": "-1", "SANDRUN_KUBE_SECCOMP": "unconfined"} {
		if _, err := OptionsFromEnv(func(q string) string {
			if q == k {
				return v
			}
			return ""
		}); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
	b := New(o)
	if d := b.downgrades(); len(d) != 1 || !strings.Contains(d[0], "NetworkPolicy") {
		t.Fatalf("runtime/default is not reported as a downgrade: %v", d)
	}
}

// TestNoCluster: without a reachable cluster, Check says why and Run
// fails; New contacts nothing.
func TestNoCluster(t *testing.T) {
	b := New(Options{Kubeconfig: t.TempDir() + "/missing"})
	defer b.Close()
	if err := b.Check(t.Context(), "python"); err == nil || !strings.Contains(err.Error(), "kubeconfig") {
		t.Fatalf("Check = %v", err)
	}
	if err := b.Check(t.Context(), "starlark"); err == nil || !strings.Contains(err.Error(), "no image") {
		t.Fatalf("starlark: %v", err)
	}
	if _, err := b.Run(t.Context(), &sandrun.Request{Language: "python", Code: "print(1)", Limits: sandrun.Limits{}.WithDefaults()}); err == nil {
		t.Fatal("Run without a cluster succeeded")
	}
}
