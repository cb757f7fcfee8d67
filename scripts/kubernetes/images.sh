#!/usr/bin/env bash
# images.sh SOCKET: puts the images the test cluster runs into its
# containerd (namespace k8s.io), without a registry:
#   sandrun.local/pause:1        the pod sandbox, a static Go binary (pause/)
#   sandrun-<language>:bookworm  the docker tier's runtime images (sandrun
#                                image build), exported from dockerd
# Both are skipped when containerd already has the same image, so a warm
# start costs a few `ctr` calls.
set -euo pipefail
SOCK="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
log() { echo "k8s-images: $*" >&2; }
kctr() { ctr -a "$SOCK" -n k8s.io "$@"; }
have() { kctr images ls -q 2>/dev/null | grep -qxF "$1"; }

# oci_archive DIR NAME ENTRYPOINT: writes a docker-archive tarball (what
# `docker save` makes, which `ctr images import` reads) of one layer, the
# directory DIR, to stdout.
oci_archive() {
	local dir="$1" name="$2" entry="$3" t diff cfg cid
	t="$(mktemp -d)"
	tar -C "$dir" --numeric-owner --owner=0 --group=0 -cf "$t/layer.tar" .
	diff="$(sha256sum "$t/layer.tar" | cut -d' ' -f1)"
	cfg="{\"architecture\":\"$(go env GOARCH)\",\"os\":\"linux\",\"config\":{\"Entrypoint\":[\"$entry\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$diff\"]}}"
	cid="$(printf '%s' "$cfg" | sha256sum | cut -d' ' -f1)"
	printf '%s' "$cfg" >"$t/$cid.json"
	printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["layer.tar"]}]' "$cid" "$name" >"$t/manifest.json"
	tar -C "$t" -cf - manifest.json "$cid.json" layer.tar
	rm -rf "$t"
}

if ! have sandrun.local/pause:1; then
	t="$(mktemp -d)"
	mkdir -p "$t/rootfs"
	(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags=-s -o "$t/rootfs/pause" ./scripts/kubernetes/pause)
	oci_archive "$t/rootfs" sandrun.local/pause:1 /pause | kctr images import - >/dev/null
	rm -rf "$t"
	log "imported sandrun.local/pause:1"
fi

# The runtime images: one root filesystem tagged once per language.
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
	tags=$(docker images --format '{{.Repository}}:{{.Tag}}' | grep -E '^sandrun-[a-z]+:bookworm$' || true)
	if [ -z "$tags" ]; then
		log "dockerd has no sandrun-*:bookworm image (sandrun image build all); the kubernetes tier will have none"
	else
		stamp="$(docker image inspect -f '{{.Id}}' $tags | sort -u | tr '\n' ' ')"
		missing=0
		for tg in $tags; do have "docker.io/library/$tg" || missing=1; done
		if [ $missing = 1 ] || [ "$(cat "${SANDRUN_K8S_STATE:-/var/lib/sandrun-k8s}/images.id" 2>/dev/null)" != "$stamp" ]; then
			t0=$(date +%s)
			# shellcheck disable=SC2086
			docker save $tags | kctr images import - >/dev/null
			echo "$stamp" >"${SANDRUN_K8S_STATE:-/var/lib/sandrun-k8s}/images.id"
			log "imported $(echo $tags) in $(($(date +%s) - t0)) s"
		fi
	fi
else
	log "dockerd is not running: no runtime images imported"
fi
