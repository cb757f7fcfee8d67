//go:build linux

// Package fleet tests deploy/kubernetes on the real test cluster
// (scripts/setup.d/70-kubernetes.sh): two `sandrun serve` replicas behind a
// Service, on the kubernetes tier, their audit log on PostgreSQL, a run
// through each replica and through the Service, a session created through
// one replica and used through the other, metrics, the probes.
package fleet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

type env struct {
	t                   *testing.T
	kubectl, kubeconfig string
	ns                  string
	token               string
}

func (e *env) k(args ...string) string {
	e.t.Helper()
	out, err := exec.Command(e.kubectl, append([]string{"--kubeconfig", e.kubeconfig}, args...)...).CombinedOutput()
	if err != nil {
		e.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// call makes an authenticated JSON request and decodes the answer.
func (e *env) call(method, url string, body, out any) int {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %d %s", method, url, res.StatusCode, b)
		}
	}
	return res.StatusCode
}

type result struct {
	ID, Backend, Status, Stdout, Error string
}

func TestFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("deploys a fleet on the test cluster; skipped under -short")
	}
	e := &env{t: t, kubectl: os.Getenv("SANDRUN_TEST_KUBECTL"), kubeconfig: os.Getenv("SANDRUN_TEST_KUBECONFIG")}
	containerd, nodeIP := os.Getenv("SANDRUN_TEST_K8S_CONTAINERD"), os.Getenv("SANDRUN_TEST_K8S_NODE_IP")
	if e.kubectl == "" || e.kubeconfig == "" || containerd == "" || nodeIP == "" {
		if os.Getenv("SANDRUN_TEST_STRICT") == "1" {
			t.Fatal("no test cluster (SANDRUN_TEST_KUBECONFIG...: scripts/setup.d/70-kubernetes.sh) with SANDRUN_TEST_STRICT=1")
		}
		t.Skip("no test cluster (scripts/kubernetes/cluster.sh up; source /var/lib/sandrun-k8s/env)")
	}
	root := repoRoot(t)
	tag := fmt.Sprintf("sandrun-server:test-%d", os.Getpid())
	buildImage(t, root, tag, containerd)
	dsn := startPostgres(t, nodeIP)

	e.ns = fmt.Sprintf("sandrun-fleet-%d", os.Getpid())
	e.token = fmt.Sprintf("tok-%d-%d", os.Getpid(), time.Now().UnixNano())
	e.k("create", "namespace", e.ns)
	t.Cleanup(func() {
		_, _ = exec.Command(e.kubectl, "--kubeconfig", e.kubeconfig, "delete", "namespace", e.ns, "--wait=false").CombinedOutput()
	})
	e.k("label", "namespace", e.ns, "pod-security.kubernetes.io/enforce=restricted")
	e.k("-n", e.ns, "create", "secret", "generic", "sandrun", "--from-literal=tokens="+e.token,
		"--from-literal=route-key=fleet-test-route-key-"+e.ns, "--from-literal=audit-dsn="+dsn)

	// An overlay on deploy/kubernetes: the image just built, the test
	// namespace, a pool of one warm pod per replica.
	overlay := t.TempDir()
	rel, err := filepath.Rel(overlay, filepath.Join(root, "deploy", "kubernetes"))
	if err != nil {
		t.Fatal(err)
	}
	name, newTag, _ := strings.Cut(tag, ":")
	kust := fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: %s
resources: [%s]
images: [{name: sandrun, newName: %s, newTag: %s}]
patches:
  - target: {kind: Deployment, name: sandrun}
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/env/4/value
        value: python=1
      - op: replace
        path: /spec/template/spec/containers/0/imagePullPolicy
        value: Never
`, e.ns, rel, name, newTag)
	if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(kust), 0o644); err != nil {
		t.Fatal(err)
	}
	e.k("apply", "-k", overlay)
	if _, err := exec.Command(e.kubectl, "--kubeconfig", e.kubeconfig, "-n", e.ns, "rollout", "status", "deployment/sandrun", "--timeout=180s").CombinedOutput(); err != nil {
		t.Fatalf("the fleet did not become ready:\n%s\n%s", e.k("-n", e.ns, "get", "pods", "-o", "wide"),
			e.k("-n", e.ns, "logs", "-l", "app.kubernetes.io/component=server", "--tail=30"))
	}
	ips := strings.Fields(e.k("-n", e.ns, "get", "pods", "-l", "app.kubernetes.io/component=server",
		"--field-selector=status.phase=Running", "-o", `jsonpath={range .items[*]}{.status.podIP}{" "}{end}`))
	if len(ips) != 2 {
		t.Fatalf("replicas %v", ips)
	}
	svc := strings.TrimSpace(e.k("-n", e.ns, "get", "service", "sandrun", "-o", "jsonpath={.spec.clusterIP}"))
	a, b, service := "http://"+ips[0]+":8080", "http://"+ips[1]+":8080", "http://"+svc

	// A run through each replica and through the Service; each run is
	// read back through the other replica (the shared audit log).
	var ids []string
	for i, base := range []string{a, b, service} {
		var res result
		code := e.call("POST", base+"/v1/runs", map[string]any{"language": "python", "code": fmt.Sprintf("print(%d * 7)", i+1)}, &res)
		if code != 200 || res.Status != "ok" || res.Stdout != fmt.Sprintf("%d\n", (i+1)*7) || res.Backend != "kubernetes" {
			t.Fatalf("run %d through %s: %d %+v", i, base, code, res)
		}
		ids = append(ids, res.ID)
	}
	for i, id := range ids {
		other := map[int]string{0: b, 1: a, 2: a}[i]
		var res result
		if code := e.call("GET", other+"/v1/runs/"+id, nil, &res); code != 200 || res.Status != "ok" {
			t.Fatalf("run %s read back through %s: %d %+v", id, other, code, res)
		}
	}

	// A session created through A and used through B, then through the
	// Service: every step reaches the interpreter that holds x.
	var info struct{ ID, Backend string }
	if code := e.call("POST", a+"/v1/sessions", map[string]any{"language": "python"}, &info); code != 201 || info.Backend != "kubernetes" {
		t.Fatalf("session create: %d %+v", code, info)
	}
	step := func(base, code string) result {
		var res result
		if c := e.call("POST", base+"/v1/sessions/"+info.ID+"/run", map[string]any{"code": code}, &res); c != 200 {
			t.Fatalf("session step through %s: %d %+v", base, c, res)
		}
		return res
	}
	if res := step(b, "x = 40"); res.Status != "ok" {
		t.Fatalf("through B: %+v", res)
	}
	for i := 0; i < 4; i++ {
		if res := step(service, "x += 1; print(x)"); res.Status != "ok" || res.Stdout != fmt.Sprintf("%d\n", 41+i) {
			t.Fatalf("through the Service, step %d: %+v", i, res)
		}
	}
	if code := e.call("DELETE", b+"/v1/sessions/"+info.ID, nil, nil); code != 200 {
		t.Fatalf("session close through B: %d", code)
	}

	// Probes and metrics.
	for _, base := range []string{a, b} {
		for _, p := range []string{"/healthz", "/readyz"} {
			res, err := http.Get(base + p)
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("%s%s: %v %v", base, p, res, err)
			}
			res.Body.Close()
		}
		req, _ := http.NewRequest("GET", base+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+e.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(m), "sandrun_") {
			t.Fatalf("metrics at %s: %d", base, res.StatusCode)
		}
	}
	ann := e.k("-n", e.ns, "get", "pods", "-l", "app.kubernetes.io/component=server", "-o", `jsonpath={.items[0].metadata.annotations.prometheus\.io/scrape}`)
	if ann != "true" {
		t.Fatalf("scrape annotation %q", ann)
	}

	nodeSetup(t, e, root, tag)

	// Deleting a server pod deletes its run pods (warm ones included):
	// they belong to its owner config map, which belongs to the pod.
	pod := strings.TrimSpace(e.k("-n", e.ns, "get", "pods", "-l", "app.kubernetes.io/component=server", "-o", "jsonpath={.items[0].metadata.name}"))
	owner := strings.TrimSpace(e.k("-n", e.ns, "get", "configmaps", "-l", "sandrun.io/role=owner", "-o",
		fmt.Sprintf(`jsonpath={range .items[?(@.metadata.ownerReferences[0].name=="%s")]}{.metadata.labels.sandrun\.io/owner}{end}`, pod)))
	if owner == "" {
		t.Fatalf("no owner config map belongs to %s:\n%s", pod, e.k("-n", e.ns, "get", "configmaps", "-o", "yaml"))
	}
	e.k("-n", e.ns, "delete", "pod", pod, "--grace-period=1")
	for end := time.Now().Add(2 * time.Minute); ; {
		left := strings.Fields(e.k("-n", e.ns, "get", "pods", "-l", "sandrun.io/owner="+owner, "-o", "jsonpath={.items[*].metadata.name}"))
		if len(left) == 0 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("run pods of the deleted server left: %v", left)
		}
		time.Sleep(time.Second)
	}
}

// buildImage makes the server image: the runtime image with this
// checkout's sandrun binary, imported into the cluster's containerd.
func buildImage(t *testing.T, root, tag, containerd string) {
	bin := filepath.Join(t.TempDir(), "sandrun")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/sandrun")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctr := strings.TrimSpace(run(t, "docker", "create", "sandrun-runtimes:bookworm", "/bin/true"))
	defer exec.Command("docker", "rm", "-f", ctr).Run()
	run(t, "docker", "cp", bin, ctr+":/usr/local/bin/sandrun")
	run(t, "docker", "commit", "--change", `ENTRYPOINT ["/usr/local/bin/sandrun"]`, "--change", "CMD []", ctr, tag)
	t.Cleanup(func() {
		_ = exec.Command("docker", "rmi", tag).Run()
		_ = exec.Command("ctr", "-a", containerd, "-n", "k8s.io", "images", "rm", "docker.io/library/"+tag).Run()
	})
	save := exec.Command("docker", "save", tag)
	imp := exec.Command("ctr", "-a", containerd, "-n", "k8s.io", "images", "import", "-")
	pipe, _ := save.StdoutPipe()
	imp.Stdin = pipe
	var out bytes.Buffer
	imp.Stdout, imp.Stderr = &out, &out
	if err := imp.Start(); err != nil {
		t.Fatal(err)
	}
	if err := save.Run(); err != nil {
		t.Fatalf("docker save: %v", err)
	}
	if err := imp.Wait(); err != nil {
		t.Fatalf("ctr import: %v\n%s", err, out.String())
	}
}

// startPostgres starts a throwaway PostgreSQL the fleet's pods reach on the
// node's address (port 18532), trusting the pod network, and returns its DSN.
func startPostgres(t *testing.T, nodeIP string) string {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		t.Fatal("PostgreSQL is not installed (scripts/setup.d/40-postgres.sh)")
	}
	bin := filepath.Dir(bins[len(bins)-1])
	dir, err := os.MkdirTemp("", "sandrun-fleet-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	run(t, "chown", "postgres:postgres", dir)
	run(t, "runuser", "-u", "postgres", "--", bin+"/initdb", "-D", dir+"/data", "-A", "trust", "-U", "postgres")
	hba := "local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all 10.244.0.0/16 trust\n"
	if err := os.WriteFile(dir+"/data/pg_hba.conf", []byte(hba), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, "chown", "postgres:postgres", dir+"/data/pg_hba.conf")
	const port = "18532"
	run(t, "runuser", "-u", "postgres", "--", bin+"/pg_ctl", "-D", dir+"/data", "-l", dir+"/log", "-w", "-t", "60",
		"-o", fmt.Sprintf("-c listen_addresses=%s -p %s -k %s -c fsync=off", nodeIP, port, dir), "start")
	t.Cleanup(func() {
		_ = exec.Command("runuser", "-u", "postgres", "--", bin+"/pg_ctl", "-D", dir+"/data", "-m", "immediate", "-w", "stop").Run()
	})
	return fmt.Sprintf("host=%s port=%s user=postgres dbname=postgres sslmode=disable", nodeIP, port)
}

// nodeSetup applies deploy/kubernetes/node-setup.yaml (in a namespace of
// its own, writing to a temp dir instead of the kubelet's seccomp
// directory) and checks that the profile it installs on the node is
// `sandrun kube seccomp-profile`'s.
func nodeSetup(t *testing.T, e *env, root, tag string) {
	b, err := os.ReadFile(filepath.Join(root, "deploy", "kubernetes", "node-setup.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ns := fmt.Sprintf("sandrun-node-%d", os.Getpid())
	y := strings.NewReplacer("sandrun-node-setup", ns, "/var/lib/kubelet/seccomp", dir,
		"image: sandrun:latest", "image: "+tag+"\n          imagePullPolicy: Never").Replace(string(b))
	f := filepath.Join(t.TempDir(), "node-setup.yaml")
	if err := os.WriteFile(f, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	e.k("apply", "-f", f)
	t.Cleanup(func() {
		_, _ = exec.Command(e.kubectl, "--kubeconfig", e.kubeconfig, "delete", "namespace", ns, "--wait=false").CombinedOutput()
	})
	want := run(t, "go", "run", filepath.Join(root, "cmd", "sandrun"), "kube", "seccomp-profile")
	for end := time.Now().Add(2 * time.Minute); ; {
		got, err := os.ReadFile(filepath.Join(dir, "sandrun", "run.json"))
		if err == nil && strings.TrimSpace(string(got)) == strings.TrimSpace(want) {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("the node-setup DaemonSet did not install the profile (%v):\n%s", err, e.k("-n", ns, "get", "pods", "-o", "wide"))
		}
		time.Sleep(500 * time.Millisecond)
	}
}
