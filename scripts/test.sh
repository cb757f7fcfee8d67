#!/usr/bin/env bash
# The test command (README): installs what the tests need, starts the
# services they use, runs the whole suite, and stops what it started.
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

echo "== go vet"
go vet ./...
echo "== go test"
go test -count=1 -timeout 40m ./... "$@"
