#!/usr/bin/env bash
# Builds the Kubernetes control plane and node binaries (kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl) from the Go
# module proxy, once per version: the result is cached under
# $SANDRUN_K8S_CACHE (default /var/cache/sandrun/k8s-<version>-<recipe>),
# where <recipe> hashes this script, so a version bump or a change of the
# build steps rebuilds and an unchanged cache costs nothing.
#
# Why from the module proxy: CI reaches only the Go proxy, Debian and npm;
# Debian's kubernetes-client is 1.20 and it has no server binaries. The
# k8s.io/kubernetes module zip has no staging/ directory and an empty
# vendor/, so the 31 staging replaces are rewritten to the published
# k8s.io/X v0.<minor>.<patch> modules of the same release.
#
# Prints the cache directory on its last line of stdout.
set -euo pipefail
K8S_VERSION="${SANDRUN_K8S_VERSION:-v1.33.13}"
here="$(cd "$(dirname "$0")" && pwd)"
recipe="$(sha256sum "$here/build.sh" | cut -c1-12)"
cache="${SANDRUN_K8S_CACHE:-/var/cache/sandrun/k8s-$K8S_VERSION-$recipe}"
bins=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

if [ -f "$cache/.complete" ]; then
	echo "$cache"
	exit 0
fi

log() { echo "k8s-build: $*" >&2; }
start=$(date +%s)
mkdir -p "$(dirname "$cache")"
work="$(mktemp -d "$(dirname "$cache")/k8s-build.XXXXXX")"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

log "downloading k8s.io/kubernetes@$K8S_VERSION"
dir="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[ -d "$dir" ] || { log "go mod download gave no directory"; exit 1; }
src="$work/src"
cp -a "$dir" "$src"
chmod -R u+w "$src"
rm -rf "$src/vendor" "$src/go.work" "$src/go.work.sum"

# Staging modules: k8s.io/X => ./staging/src/k8s.io/X becomes the
# published module of the same release (v1.33.13 -> v0.33.13).
staging="v0.${K8S_VERSION#v1.}"
sed -i -E "s#^([[:space:]]*)(k8s\.io/[A-Za-z0-9._-]+) => \./staging/src/k8s\.io/[A-Za-z0-9._-]+#\1\2 => \2 $staging#" "$src/go.mod"
if grep -q '=> ./staging' "$src/go.mod"; then
	log "go.mod still has staging replaces:"
	grep '=> ./staging' "$src/go.mod" >&2
	exit 1
fi

# The kubelet sets vm.overcommit_memory=1, kernel.panic=10 and
# kernel.panic_on_oops=1 on the whole host at start unless told to refuse
# to start instead (protectKernelDefaults). On a machine shared with other
# work neither is acceptable: only warn.
cm="$src/pkg/kubelet/cm/container_manager_linux.go"
grep -q 'b := KernelTunableModify' "$cm" || { log "kubelet: kernel tunables patch does not apply"; exit 1; }
sed -i 's/b := KernelTunableModify/b := KernelTunableWarn/' "$cm"

minor="${K8S_VERSION#v1.}"
minor="${minor%%.*}"
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
ldflags="$ldflags -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"

mkdir -p "$work/bin"
for b in "${bins[@]}"; do
	t0=$(date +%s)
	(cd "$src" && GOFLAGS=-mod=mod CGO_ENABLED=0 GOWORK=off go build -trimpath -ldflags "$ldflags" -o "$work/bin/$b" "./cmd/$b")
	log "built $b in $(($(date +%s) - t0)) s"
done

rm -rf "$cache"
# Earlier versions' and recipes' builds are of no further use.
for old in "$(dirname "$cache")"/k8s-v*; do
	[ "$old" != "$cache" ] && [ -f "$old/.complete" ] && rm -rf "$old"
done
mkdir -p "$cache"
mv "$work/bin" "$cache/bin"
echo "$K8S_VERSION" >"$cache/version"
touch "$cache/.complete"
log "built Kubernetes $K8S_VERSION in $(($(date +%s) - start)) s into $cache"
echo "$cache"
