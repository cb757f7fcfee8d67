# The kubernetes tier's test cluster: a real single-node Kubernetes (etcd,
# kube-apiserver, controller-manager, scheduler, kubelet, kube-proxy,
# containerd, runc, CNI bridge) built from the Go module proxy once per
# version (cached under /var/cache/sandrun/k8s-<version>-<recipe>) and
# started for the test run; stopped, with everything it made on the host,
# on exit. Needs the docker tier's images (50-docker.sh builds them): they
# are exported from dockerd into the cluster's containerd.
# Exports SANDRUN_TEST_KUBECONFIG (and SANDRUN_TEST_KUBECTL, ...), which
# the kubernetes tests use; without it they skip (fail when strict).
if [ "$(id -u)" = 0 ]; then
	apt_install etcd-server containerd runc containernetworking-plugins conntrack iptables openssl curl
	k8s_t0=$(date +%s)
	if bash scripts/kubernetes/build.sh >/dev/null; then
		echo "70-kubernetes: binaries ready in $(($(date +%s) - k8s_t0)) s"
		k8s_t1=$(date +%s)
		on_exit "bash scripts/kubernetes/cluster.sh down"
		if bash scripts/kubernetes/cluster.sh up; then
			# shellcheck source=/dev/null
			source /var/lib/sandrun-k8s/env
			go run ./cmd/sandrun kube seccomp-profile --install "$SANDRUN_TEST_K8S_SECCOMP_DIR" 2>/dev/null
			echo "70-kubernetes: cluster up in $(($(date +%s) - k8s_t1)) s"
		else
			echo "70-kubernetes: the cluster did not start; component logs:" >&2
			for l in /run/sandrun-k8s/*.log; do [ -e "$l" ] && { echo "== $l" >&2; tail -15 "$l" >&2; }; done
		fi
	else
		echo "70-kubernetes: building the Kubernetes binaries failed" >&2
	fi
fi
