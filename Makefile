# The commands a newcomer needs; each is a thin name for a script, so CI
# (.ci/run -> scripts/test.sh) and a developer run the same thing.
#   make short   the quick loop: go test -short ./... (no root, no services)
#   make test    the whole suite as CI runs it (root: installs and starts
#                dockerd, PostgreSQL, npm clients; then every gate)
#   make lint    gofmt check, go vet, staticcheck (pinned, cached by version), the darwin build
#   make race    go test -race on the packages that start goroutines
#   make fuzz    every fuzz target for FUZZTIME each (default 5s)
#   make bench   every tier against its baseline (root): BENCH="-only jail -n 30"
.PHONY: short test lint race fuzz bench build

GO ?= go
BENCH ?= -n 10

build:
	$(GO) build -o sandrun ./cmd/sandrun

short:
	$(GO) test -short ./...

test:
	bash scripts/test.sh

lint:
	bash scripts/gates.sh fmt vet staticcheck cross

race:
	bash scripts/gates.sh race

fuzz:
	bash scripts/gates.sh fuzz

bench: build
	./sandrun bench $(BENCH)
