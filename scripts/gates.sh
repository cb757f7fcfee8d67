#!/usr/bin/env bash
# The CI gates besides `go test`, one function each; scripts/test.sh runs
# them and the Makefile names them. Usage: bash scripts/gates.sh GATE...
#   fmt          gofmt: fails listing every unformatted .go file
#   vet          go vet ./...
#   staticcheck  honnef.co/go/tools at a pinned version, installed once per
#                version into a cache dir (not rebuilt every CI run)
#   race         go test -race on the packages that start goroutines
#   fuzz         every Fuzz* target for FUZZTIME (default 5s) each
#   cross        the library and CLI build for a non-Linux OS (darwin, no
#                cgo): Linux-only code stays behind build tags
# Each gate prints its wall time, so CI logs show what the gates cost.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

STATICCHECK_VERSION=v0.8.2
FUZZTIME="${FUZZTIME:-5s}"

# Packages whose tests run again under the race detector: those that start
# goroutines of their own or drive children through pipes (supervisors,
# servers, streams, pools, sessions). Left out: tests/attacks (minutes of
# host checks; its concurrency is the tiers', raced here) and the pure
# libraries (sanitize, analyze, lang). docs/guide/ci.md has the costs.
RACE_PKGS=(
	. ./internal/... ./audit/ ./session/... ./pool/ ./server/... ./cmd/sandrun/
	./backend/restricted/ ./backend/process/ ./backend/jail/ ./backend/docker/ ./backend/gvisor/
)

tools_dir() {
	local d="${SANDRUN_TOOLS_DIR:-/var/cache/sandrun/tools}"
	if ! mkdir -p "$d" 2>/dev/null || [ ! -w "$d" ]; then
		d="${XDG_CACHE_HOME:-$HOME/.cache}/sandrun/tools"
		mkdir -p "$d"
	fi
	echo "$d"
}

gate_fmt() {
	local files bad
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		files=$(git ls-files --cached --others --exclude-standard '*.go')
	else
		files=$(find . -name '*.go' -not -path '*/node_modules/*' -not -path './.cache/*')
	fi
	# shellcheck disable=SC2086
	bad=$(gofmt -l $files)
	if [ -n "$bad" ]; then
		echo "gofmt: these files are not formatted (run gofmt -w):" >&2
		echo "$bad" >&2
		return 1
	fi
}

gate_vet() { go vet ./...; }

gate_cross() { GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 go build ./...; }

gate_staticcheck() {
	local dir bin
	dir="$(tools_dir)/staticcheck-$STATICCHECK_VERSION"
	bin="$dir/staticcheck"
	if [ ! -x "$bin" ]; then
		echo "installing staticcheck $STATICCHECK_VERSION into $dir"
		GOBIN="$dir" go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
	fi
	"$bin" ./...
}

gate_race() {
	go test -race -count=1 -timeout 30m "${RACE_PKGS[@]}"
}

# fuzz_one fuzzes one target. A finding always writes its input under
# testdata/fuzz/NAME and fails at once. Go's engine also fails now and then
# at the -fuzztime boundary without any finding ("context deadline
# exceeded" with nothing written, golang/go#51484, seen here in a
# rehearsal): such a run is repeated once, and fails the gate if it fails
# again.
corpus_size() { if [ -d "$1" ]; then find "$1" -type f | wc -l; else echo 0; fi; }

fuzz_one() {
	local pkg=$1 name=$2 dir log try
	dir="${pkg}testdata/fuzz/$name"
	log=$(mktemp)
	for try in 1 2; do
		local before after
		before=$(corpus_size "$dir")
		if go test -run='^$' -fuzz="^$name\$" -fuzztime="$FUZZTIME" "$pkg" >"$log" 2>&1; then
			grep -v '^fuzz: elapsed' "$log" || true
			rm -f "$log"
			return 0
		fi
		after=$(corpus_size "$dir")
		cat "$log"
		if [ "$after" -gt "$before" ] || grep -q 'Failing input written to' "$log" || [ "$try" = 2 ] ||
			! grep -qE 'context deadline exceeded|fuzzing process hung or terminated unexpectedly' "$log"; then
			rm -f "$log"
			return 1
		fi
		echo "-- $name failed without a finding (Go's fuzz engine, golang/go#51484): once more"
	done
}

gate_fuzz() {
	# go test fuzzes one target of one package per call: list them all.
	local f pkg name n=0
	while IFS= read -r f; do
		pkg="./$(dirname "$f")/"
		for name in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$f"); do
			echo "-- $name in $pkg ($FUZZTIME)"
			fuzz_one "$pkg" "$name"
			n=$((n + 1))
		done
	done < <(grep -rl --include='*_test.go' '^func Fuzz' . | grep -v node_modules | sed 's|^\./||' | sort)
	echo "fuzzed $n targets"
	[ "$n" -gt 0 ]
}

for g in "$@"; do
	declare -F "gate_$g" >/dev/null || { echo "unknown gate $g (fmt vet staticcheck cross race fuzz)" >&2; exit 2; }
	echo "== gate $g"
	start=$(date +%s)
	"gate_$g"
	echo "== gate $g passed in $(($(date +%s) - start)) s (load $(cut -d' ' -f1-3 /proc/loadavg))"
done
