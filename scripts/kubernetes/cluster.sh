#!/usr/bin/env bash
# A real single-node Kubernetes cluster for sandrun's tests, started from the
# binaries scripts/kubernetes/build.sh made and Debian's etcd, containerd,
# runc and CNI plugins. Everything it runs has its own state directory,
# socket, bridge and ports, so it lives beside dockerd (and docker's own
# containerd) without touching them.
#
#   cluster.sh up     start (stopping a previous instance first); writes
#                     $SANDRUN_K8S_STATE/env (SANDRUN_TEST_KUBECONFIG...)
#   cluster.sh down   stop everything and remove what the cluster made on the
#                     host: pods, mounts, its bridge, its iptables chains
#
# Ports: etcd 2379/2380 (127.0.0.1), kube-apiserver 6443, kubelet 10250
# (the node IP) and 10248 (127.0.0.1), controller-manager 10257, scheduler
# 10259, kube-proxy 10249/10256 (127.0.0.1).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
STATE="${SANDRUN_K8S_STATE:-/var/lib/sandrun-k8s}"
RUN="${SANDRUN_K8S_RUN:-/run/sandrun-k8s}"
NODE="${SANDRUN_K8S_NODE:-sandrun-k8s-node}"
POD_CIDR="${SANDRUN_K8S_POD_CIDR:-10.244.0.0/24}"
SVC_CIDR="${SANDRUN_K8S_SERVICE_CIDR:-10.96.0.0/16}"
SVC_IP="${SANDRUN_K8S_SERVICE_IP:-10.96.0.1}"
BRIDGE="${SANDRUN_K8S_BRIDGE:-sbr-k8s0}"
SOCK="$RUN/containerd.sock"
log() { echo "k8s-cluster: $*" >&2; }

node_ip() {
	local dev
	dev="$(ip -4 route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") print $(i + 1); exit}')"
	[ -n "$dev" ] || dev=eth0
	ip -4 -o addr show dev "$dev" | awk '{split($4, a, "/"); print a[1]; exit}'
}

# start NAME CMD...: runs a component in the background with its log and
# pid file under $RUN.
start() {
	local name="$1"
	shift
	setsid "$@" >"$RUN/$name.log" 2>&1 </dev/null &
	echo $! >"$RUN/$name.pid"
}

ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

# wait_for WHAT SECONDS CMD...: polls CMD until it succeeds.
wait_for() {
	local what="$1" secs="$2"
	shift 2
	local end=$(($(date +%s) + secs))
	until "$@" >/dev/null 2>&1; do
		if [ "$(date +%s)" -ge "$end" ]; then
			log "timed out waiting for $what"
			return 1
		fi
		sleep 0.2
	done
}

# pki makes a CA and every certificate the components use (EC P-256: fast).
pki() {
	local d="$STATE/pki" ip="$1"
	mkdir -p "$d"
	openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$d/ca.key" \
		-out "$d/ca.crt" -days 3650 -subj /CN=sandrun-k8s-ca 2>/dev/null
	cert() { # name subject sans
		local n="$1" subj="$2" sans="$3" ext
		ext="$(mktemp)"
		{
			echo "keyUsage=critical,digitalSignature,keyEncipherment"
			echo "extendedKeyUsage=serverAuth,clientAuth"
			[ -n "$sans" ] && echo "subjectAltName=$sans"
		} >"$ext"
		openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$d/$n.key" \
			-out "$d/$n.csr" -subj "$subj" 2>/dev/null
		openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
			-out "$d/$n.crt" -days 365 -extfile "$ext" 2>/dev/null
		rm -f "$ext" "$d/$n.csr"
	}
	cert apiserver /CN=kube-apiserver \
		"DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$ip,IP:$SVC_IP"
	cert admin "/O=system:masters/CN=sandrun-admin" ""
	cert apiserver-kubelet "/O=system:masters/CN=kube-apiserver-kubelet-client" ""
	cert controller-manager /CN=system:kube-controller-manager ""
	cert scheduler /CN=system:kube-scheduler ""
	cert kube-proxy /CN=system:kube-proxy ""
	cert kubelet "/O=system:nodes/CN=system:node:$NODE" "DNS:$NODE,IP:$ip,IP:127.0.0.1"
	openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
	openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
	chmod 0600 "$d"/*.key
}

# kubeconfig NAME: a kubeconfig with NAME's client certificate.
kubeconfig() {
	local n="$1" server="$2" d="$STATE/pki"
	cat >"$STATE/$n.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: sandrun-k8s
  cluster:
    server: $server
    certificate-authority-data: $(base64 -w0 <"$d/ca.crt")
users:
- name: $n
  user:
    client-certificate-data: $(base64 -w0 <"$d/$n.crt")
    client-key-data: $(base64 -w0 <"$d/$n.key")
contexts:
- name: sandrun-k8s
  context: {cluster: sandrun-k8s, user: $n}
current-context: sandrun-k8s
EOF
	chmod 0600 "$STATE/$n.kubeconfig"
}

containerd_config() {
	cat >"$STATE/containerd.toml" <<EOF
version = 2
root = "$STATE/containerd"
state = "$RUN/containerd"
disabled_plugins = ["io.containerd.internal.v1.tracing", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = "$SOCK"

[ttrpc]
  address = "$RUN/containerd.sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$STATE/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "sandrun.local/pause:1"
  # The machine's root lacks CAP_SYS_RESOURCE: a pause container's
  # oom_score_adj of -998 would be refused.
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
EOF
	mkdir -p "$STATE/cni/net.d" "$STATE/cni/ipam"
	# bridge + host-local: one flat pod network on this node. The firewall
	# plugin accepts the pods' traffic in FORWARD, whose policy dockerd
	# sets to DROP (bridged frames pass iptables: br_netfilter). No
	# masquerade: pods reach the node and each other, nothing beyond.
	cat >"$STATE/cni/net.d/10-sandrun.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "sandrun-k8s",
  "plugins": [
    {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}],
              "dataDir": "$STATE/cni/ipam"}},
    {"type": "firewall", "backend": "iptables"}
  ]
}
EOF
}

kubelet_config() {
	local ip="$1"
	cat >"$STATE/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $ip
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $STATE/pki/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $STATE/pki/kubelet.crt
tlsPrivateKeyFile: $STATE/pki/kubelet.key
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$SOCK
failSwapOn: false
resolvConf: /etc/resolv.conf
serializeImagePulls: false
# Images are imported, never pulled: garbage collection would lose them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "200Mi", nodefs.available: "2%", imagefs.available: "2%"}
podPidsLimit: 4096
maxPods: 110
containerLogMaxSize: 10Mi
containerLogMaxFiles: 2
nodeStatusUpdateFrequency: 5s
syncFrequency: 10s
EOF
}

kube_proxy_config() {
	cat >"$STATE/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $STATE/kube-proxy.kubeconfig}
hostnameOverride: $NODE
mode: iptables
clusterCIDR: $POD_CIDR
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Leave the host's conntrack table and timeouts as they are.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {localhostNodePorts: false}
EOF
}

kubectl() { "$BIN/kubectl" --kubeconfig "$STATE/admin.kubeconfig" "$@"; }

up() {
	BIN="$(bash "$here/build.sh" | tail -n 1)/bin"
	for c in etcd containerd runc /usr/lib/cni/bridge /usr/lib/cni/firewall /usr/lib/cni/host-local conntrack iptables openssl; do
		command -v "$c" >/dev/null || { log "missing $c"; return 1; }
	done
	down 2>/dev/null || true
	local t0 ip
	t0=$(date +%s%N)
	ip="$(node_ip)"
	[ -n "$ip" ] || { log "cannot find the node IP"; return 1; }
	rm -rf "$STATE/pki" "$STATE/kubelet" "$STATE/cni" "$RUN"
	mkdir -p "$STATE" "$RUN"
	chmod 0700 "$STATE" "$RUN"
	pki "$ip"
	for n in admin controller-manager scheduler kube-proxy kubelet; do kubeconfig "$n" "https://$ip:6443"; done
	containerd_config
	kubelet_config "$ip"
	kube_proxy_config

	# etcd's data lives on /run (tmpfs): a throwaway cluster needs no fsync.
	start etcd etcd --name default --data-dir "$RUN/etcd" \
		--listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
		--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster default=http://127.0.0.1:2380 --listen-metrics-urls ""
	start containerd containerd --config "$STATE/containerd.toml"
	local pki="$STATE/pki"
	start kube-apiserver "$BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
		--advertise-address="$ip" --bind-address=0.0.0.0 --secure-port=6443 \
		--service-cluster-ip-range="$SVC_CIDR" --allow-privileged=false \
		--tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
		--client-ca-file="$pki/ca.crt" \
		--kubelet-client-certificate="$pki/apiserver-kubelet.crt" --kubelet-client-key="$pki/apiserver-kubelet.key" \
		--kubelet-preferred-address-types=InternalIP \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
		--authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --profiling=false
	wait_for "etcd" 30 curl -sf http://127.0.0.1:2379/health
	wait_for "kube-apiserver" 60 curl -sf --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" "https://$ip:6443/readyz"
	log "kube-apiserver ready after $(ms_since "$t0") ms"
	start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$STATE/controller-manager.kubeconfig" \
		--authentication-kubeconfig="$STATE/controller-manager.kubeconfig" \
		--authorization-kubeconfig="$STATE/controller-manager.kubeconfig" \
		--service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
		--use-service-account-credentials=true --leader-elect=false --bind-address=127.0.0.1 --profiling=false
	start kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$STATE/scheduler.kubeconfig" \
		--authentication-kubeconfig="$STATE/scheduler.kubeconfig" --authorization-kubeconfig="$STATE/scheduler.kubeconfig" \
		--leader-elect=false --bind-address=127.0.0.1 --profiling=false
	wait_for "containerd" 30 ctr -a "$SOCK" version
	bash "$here/images.sh" "$SOCK"
	start kubelet "$BIN/kubelet" --config="$STATE/kubelet.yaml" --kubeconfig="$STATE/kubelet.kubeconfig" \
		--hostname-override="$NODE" --node-ip="$ip" --root-dir="$STATE/kubelet"
	start kube-proxy "$BIN/kube-proxy" --config="$STATE/kube-proxy.yaml"
	wait_for "node $NODE to register" 60 kubectl get node "$NODE"
	wait_for "node $NODE to be Ready" 90 kubectl wait --for=condition=Ready "node/$NODE" --timeout=2s
	wait_for "the default service account" 60 kubectl -n default get serviceaccount default
	# Localhost seccomp profiles live in <root-dir>/seccomp; the caller
	# installs sandrun's there (sandrun kube seccomp-profile).
	mkdir -p "$STATE/kubelet/seccomp"
	cat >"$STATE/env" <<EOF
export SANDRUN_TEST_KUBECONFIG=$STATE/admin.kubeconfig
export SANDRUN_TEST_KUBECTL=$BIN/kubectl
export SANDRUN_TEST_K8S_CONTAINERD=$SOCK
export SANDRUN_TEST_K8S_SECCOMP_DIR=$STATE/kubelet/seccomp
export SANDRUN_TEST_K8S_NODE_IP=$ip
EOF
	log "cluster up in $(ms_since "$t0") ms (node $NODE, $ip); env in $STATE/env"
}

down() {
	local BIN
	BIN="$(ls -d /var/cache/sandrun/k8s-*/bin 2>/dev/null | head -n 1)"
	# Pods first, through the kubelet, so that the CRI tears their
	# sandboxes down (network namespaces, CNI state, mounts).
	if alive kube-apiserver && alive kubelet && [ -n "$BIN" ]; then
		kubectl delete pods --all --all-namespaces --grace-period=0 --force --wait=false >/dev/null 2>&1 || true
		local end=$(($(date +%s) + 30))
		while [ "$(date +%s)" -lt "$end" ] &&
			[ -n "$(ctr -a "$SOCK" -n k8s.io tasks ls -q 2>/dev/null)" ]; do sleep 0.5; done
	fi
	for c in kube-proxy kubelet kube-scheduler kube-controller-manager kube-apiserver; do
		if alive "$c"; then kill "$(cat "$RUN/$c.pid")" 2>/dev/null || true; fi
	done
	# What the kubelet did not tear down: kill the tasks through our
	# containerd (never docker's), then containerd, then its shims.
	local netns=()
	if alive containerd; then
		# The network namespaces of our pod sandboxes, to remove after. A
		# container without one (an app container, a host-network pod)
		# is no error: under `set -e` a failing grep here ended `down`
		# before it stopped containerd and etcd.
		for c in $(ctr -a "$SOCK" -n k8s.io containers ls -q 2>/dev/null); do
			netns+=($(ctr -a "$SOCK" -n k8s.io containers info "$c" 2>/dev/null |
				{ grep -o '"/\(var/\)\?run/netns/cni-[0-9a-f-]*"' || true; } | tr -d '"'))
		done
		for t in $(ctr -a "$SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
			ctr -a "$SOCK" -n k8s.io tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true
		done
		sleep 1
		kill "$(cat "$RUN/containerd.pid")" 2>/dev/null || true
	fi
	for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $SOCK" || true); do kill -9 "$p" 2>/dev/null || true; done
	if alive etcd; then kill "$(cat "$RUN/etcd.pid")" 2>/dev/null || true; fi
	for c in kube-proxy kubelet kube-scheduler kube-controller-manager kube-apiserver containerd etcd; do
		local i=0
		while alive "$c" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		if alive "$c"; then kill -9 "$(cat "$RUN/$c.pid")" 2>/dev/null || true; fi
	done
	# Mounts the kubelet and containerd left (emptyDir tmpfs, overlay
	# roots, shm), deepest first.
	awk -v s="$STATE/" -v r="$RUN/" 'index($2, s) == 1 || index($2, r) == 1 {print $2}' /proc/self/mounts |
		sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	for n in "${netns[@]}"; do
		umount "$n" 2>/dev/null || true
		rm -f "$n"
	done
	# The CNI plugins' cache of our network, the bridge, and the chains
	# of kube-proxy and the CNI firewall plugin.
	if [ -d /var/lib/cni/results ]; then
		for f in /var/lib/cni/results/sandrun-k8s-*; do
			[ -e "$f" ] || continue
			rm -f "$f"
		done
	fi
	ip link del "$BRIDGE" 2>/dev/null || true
	if [ -n "$BIN" ] && [ -x "$BIN/kube-proxy" ]; then "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true; fi
	for t in filter nat; do
		iptables -t "$t" -S 2>/dev/null | awk '/^-A (FORWARD|INPUT|OUTPUT|PREROUTING|POSTROUTING) .*-j (CNI-|KUBE-)/' |
			sed 's/^-A/-D/' | while read -r rule; do eval iptables -t "$t" "$rule" 2>/dev/null || true; done
		for ch in $(iptables -t "$t" -S 2>/dev/null | awk '/^-N (CNI-|KUBE-)/ {print $2}'); do
			iptables -t "$t" -F "$ch" 2>/dev/null || true
		done
		for ch in $(iptables -t "$t" -S 2>/dev/null | awk '/^-N (CNI-|KUBE-)/ {print $2}'); do
			iptables -t "$t" -X "$ch" 2>/dev/null || true
		done
	done
	rm -rf "$RUN"
}

case "${1:-}" in
up) up ;;
down) down ;;
*)
	echo "usage: $0 up|down" >&2
	exit 2
	;;
esac
