#!/usr/bin/env bash
# The project's test command (README, .ci/run): formatting, vet, every test
# with the race detector, then a short run of every fuzzer.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted"; exit 1; fi
echo "== go vet"
go vet ./...
echo "== go test -race"
go test -race -count=1 -timeout 20m ./...
echo "== fuzz (${FUZZTIME:-10s} each)"
./scripts/fuzz.sh "${FUZZTIME:-10s}"
echo "== all tests passed"
