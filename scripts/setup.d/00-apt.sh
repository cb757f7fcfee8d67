# Debian packages every fragment may need; one apt-get update per run.
apt_install() {
	local missing=()
	for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ -z "${SANDRUN_APT_UPDATED:-}" ]; then
		DEBIAN_FRONTEND=noninteractive apt-get update -qq
		SANDRUN_APT_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
if [ "$(id -u)" = 0 ]; then
	# iproute2: the network tests build their own test hosts in network
	# namespaces (ip netns, veth).
	apt_install nodejs bash python3 iproute2
fi
