#!/usr/bin/env bash
# The test command (README): the gates (gofmt, vet, staticcheck), then
# installs what the tests need, starts the services they use, runs the
# whole suite, the race detector and the fuzz targets, and stops what it
# started. `make` names each part (Makefile).
# Each scripts/setup.d/*.sh fragment installs and starts one concern's
# dependencies; a fragment may register a cleanup with `on_exit CMD`.
set -euo pipefail
cd "$(dirname "$0")/.."
export SANDRUN_ROOT="$PWD"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
# Strict: a test whose dependency (dockerd, runsc, PostgreSQL, npm
# packages...) is missing fails instead of skipping. Setup fragments
# install and start every dependency first.
export SANDRUN_TEST_STRICT=1

# The fast gates first (they need only Go): gofmt, go vet, staticcheck.
bash scripts/gates.sh fmt vet staticcheck cross

cleanups=()
on_exit() { cleanups+=("$*"); }
run_cleanups() {
	for ((i = ${#cleanups[@]} - 1; i >= 0; i--)); do eval "${cleanups[$i]}" || true; done
}
trap run_cleanups EXIT

for f in scripts/setup.d/*.sh; do
	[ -e "$f" ] || continue
	echo "== setup: $f"
	# shellcheck source=/dev/null
	source "$f"
done

echo "== go test"
start=$(date +%s)
go test -count=1 -timeout 40m ./... "$@"
echo "== go test passed in $(($(date +%s) - start)) s (load $(cut -d' ' -f1-3 /proc/loadavg))"
# Then the slow gates: the race detector on the packages that start
# goroutines, and a few seconds of fuzzing per target (scripts/gates.sh).
bash scripts/gates.sh race fuzz
