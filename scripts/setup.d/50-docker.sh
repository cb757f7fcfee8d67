# The docker and gvisor tiers: dockerd (docker.io), runsc, debootstrap, and
# the docker tier's images, built without a registry and cached on the
# machine (docker's own store, plus the root filesystem and .debs in
# /var/cache/sandrun): the first build takes a few minutes, later runs
# only check the images' recipe labels.
if [ "$(id -u)" = 0 ]; then
	apt_install docker.io runsc debootstrap

	if docker info >/dev/null 2>&1; then
		echo "dockerd already answers; using it"
	else
		mkdir -p /var/cache/sandrun
		dockerd --host=unix:///var/run/docker.sock >/var/cache/sandrun/dockerd.log 2>&1 &
		SANDRUN_DOCKERD_PID=$!
		on_exit "kill $SANDRUN_DOCKERD_PID 2>/dev/null; wait $SANDRUN_DOCKERD_PID 2>/dev/null"
		for _ in $(seq 1 120); do
			docker info >/dev/null 2>&1 && break
			if ! kill -0 "$SANDRUN_DOCKERD_PID" 2>/dev/null; then
				echo "dockerd exited; its log:" >&2
				tail -20 /var/cache/sandrun/dockerd.log >&2
				break
			fi
			sleep 0.5
		done
		docker info >/dev/null 2>&1 && echo "dockerd started (pid $SANDRUN_DOCKERD_PID)"
	fi

	if docker info >/dev/null 2>&1; then
		echo "building the docker tier's images (cached after the first run)"
		start=$(date +%s)
		go run ./cmd/sandrun image build -q all
		echo "images ready in $(($(date +%s) - start)) s"
	fi
fi
