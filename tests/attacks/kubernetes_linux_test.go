//go:build linux

package attacks

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/kubernetes"
)

// kubernetesTier runs each case in a Pod of the test cluster that
// scripts/setup.d/70-kubernetes.sh starts (SANDRUN_TEST_KUBECONFIG), in a
// namespace of its own that enforces the "restricted" Pod Security
// Standard. The node is this host, so the host checks see what a pod
// could reach. The pods' cgroups and mounts are the kubelet's, not
// sandrun's: the tier's leftover check is on the pods themselves.
func kubernetesTier() *tier {
	var ns, kubectl, kubeconfig string
	return &tier{
		name:     kubernetes.Name,
		required: true,
		heavy:    true,
		open: func(t *testing.T, _ string) (sandrun.Backend, error) {
			kubeconfig, kubectl = os.Getenv("SANDRUN_TEST_KUBECONFIG"), os.Getenv("SANDRUN_TEST_KUBECTL")
			if kubeconfig == "" || kubectl == "" {
				return nil, fmt.Errorf("no test cluster (SANDRUN_TEST_KUBECONFIG, SANDRUN_TEST_KUBECTL: scripts/setup.d/70-kubernetes.sh)")
			}
			ns = fmt.Sprintf("sandrun-attacks-%d", os.Getpid())
			k := func(args ...string) error {
				out, err := exec.Command(kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...).CombinedOutput()
				if err != nil {
					return fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, out)
				}
				return nil
			}
			if err := k("create", "namespace", ns); err != nil {
				return nil, err
			}
			t.Cleanup(func() { _ = k("delete", "namespace", ns, "--wait=false") })
			if err := k("label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted"); err != nil {
				return nil, err
			}
			// Pods are refused until the namespace's default service
			// account exists.
			for i := 0; k("get", "-n", ns, "serviceaccount/default") != nil; i++ {
				if i > 300 {
					return nil, fmt.Errorf("namespace %s has no default service account after 60s", ns)
				}
				time.Sleep(200 * time.Millisecond)
			}
			b := kubernetes.New(kubernetes.Options{
				Kubeconfig: kubeconfig, Namespace: ns,
				Logger: slog.New(slog.DiscardHandler),
			})
			t.Cleanup(func() { _ = b.Close() })
			return b, nil
		},
		// Nothing on this host is the tier's to own (see leftovers).
		ownsCgroup: func(string) bool { return false },
		leftovers: func() []string {
			out, err := exec.Command(kubectl, "--kubeconfig", kubeconfig, "get", "pods", "-n", ns, "-o",
				`jsonpath={range .items[*]}{.metadata.name} {.metadata.deletionTimestamp}{"\n"}{end}`).CombinedOutput()
			if err != nil {
				return []string{fmt.Sprintf("listing the tier's pods: %v: %s", err, out)}
			}
			var left []string
			for _, l := range strings.Split(string(out), "\n") {
				// A pod being deleted has its deletion time printed.
				if f := strings.Fields(l); len(f) == 1 {
					left = append(left, "run pod left running after the run: "+ns+"/"+f[0])
				}
			}
			return left
		},
		gaps:      kubernetesGaps(),
		overrides: containerOverrides(),
	}
}

// kubernetesGaps: what the kubernetes tier by design does not contain.
func kubernetesGaps() map[int]string {
	return map[int]string{
		9: "an emptyDir has no inode cap (Kubernetes cannot pass tmpfs nr_inodes): each run's /work and /tmp are " +
			"tmpfs instances of its own whose inodes are charged to the pod's memory limit, so the exhaustion " +
			"ends in memory_limit and touches no other run (the case's 512MiB holds its 200000 files)",
		16: "pid 1 is the pod's boot shell, running as the program's uid (the request arrives on its stdin): " +
			"its /proc/1 maps and fd list are readable (it holds only the stdio); process_vm_readv/writev " +
			"and /proc/1/mem are denied",
	}
}
