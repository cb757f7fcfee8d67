package kubernetes

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The cluster tests run against a real cluster: the one
// scripts/setup.d/70-kubernetes.sh starts (SANDRUN_TEST_KUBECONFIG). Each
// test binary gets a namespace of its own that enforces the "restricted"
// Pod Security Standard, so every run pod is also checked by the API
// server's admission; it is deleted at the end.
var testNamespace string

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		if os.Getenv("SANDRUN_TEST_KUBECONFIG") == "" || testing.Short() {
			return m.Run()
		}
		ns, cleanup, err := makeNamespace()
		if err != nil {
			fmt.Fprintln(os.Stderr, "kubernetes tests: creating the test namespace:", err)
			return 1
		}
		testNamespace = ns
		defer cleanup()
		return m.Run()
	}()
	os.Exit(code)
}

func makeNamespace() (string, func(), error) {
	cfg, _, err := loadConfig(os.Getenv("SANDRUN_TEST_KUBECONFIG"), "", "default")
	if err != nil {
		return "", nil, err
	}
	a, err := newAPI(cfg, "")
	if err != nil {
		return "", nil, err
	}
	name := fmt.Sprintf("sandrun-test-%d-%s", os.Getpid(), randomHex(3))
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted",
		"pod-security.kubernetes.io/warn":    "restricted",
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.core.Post().Resource("namespaces").Body(ns).Do(ctx).Error(); err != nil {
		return "", nil, err
	}
	// The namespace's default service account appears shortly after it;
	// pods are refused until then.
	for ctx.Err() == nil {
		if err := a.core.Get().Namespace(name).Resource("serviceaccounts").Name("default").Do(ctx).Error(); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return name, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		_ = a.core.Delete().Resource("namespaces").Name(name).Do(ctx).Error()
	}, nil
}

// clusterBackend returns a backend on the test cluster, or skips (fails
// under SANDRUN_TEST_STRICT=1) without one.
func clusterBackend(t testing.TB, o Options) *Backend {
	t.Helper()
	if testing.Short() {
		t.Skip("cluster test; skipped under -short")
	}
	kc := os.Getenv("SANDRUN_TEST_KUBECONFIG")
	if kc == "" {
		if os.Getenv("SANDRUN_TEST_STRICT") == "1" {
			t.Fatal("SANDRUN_TEST_KUBECONFIG is not set: scripts/setup.d/70-kubernetes.sh starts the test cluster (SANDRUN_TEST_STRICT=1)")
		}
		t.Skip("no test cluster (SANDRUN_TEST_KUBECONFIG; scripts/kubernetes/cluster.sh up)")
	}
	o.Kubeconfig, o.Namespace = kc, testNamespace
	b := New(o)
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := b.Check(t.Context(), "python"); err != nil {
		t.Fatalf("the test cluster is unusable: %v", err)
	}
	return b
}
