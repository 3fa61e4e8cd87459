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
echo "== services: deploy/local/up.sh"
# Integration tests talk to real services; the test command starts them
# itself (installing them on first use). Under CI a failure here is fatal;
# elsewhere the integration tests skip and say which variable they need.
if [ -z "${TRUYVET_IT_KAFKA_BROKERS:-}" ]; then
  if out=$(deploy/local/up.sh); then
    brokers=$(printf '%s\n' "$out" | sed -n 's/^TRUYVET_KAFKA_BROKERS=//p')
    export TRUYVET_IT_KAFKA_BROKERS="$brokers"
    local_kafka=1
    if [ "${CI:-}" = true ]; then trap 'deploy/local/down.sh >/dev/null 2>&1 || true' EXIT; fi
  elif [ "${CI:-}" = true ]; then
    echo "deploy/local/up.sh failed; CI needs the real services"; exit 1
  else
    echo "deploy/local/up.sh failed; integration tests will skip"
  fi
fi
echo "TRUYVET_IT_KAFKA_BROKERS=${TRUYVET_IT_KAFKA_BROKERS:-}"
echo "== go test -race"
go test -race -count=1 -timeout 20m ./...
if [ "${local_kafka:-}" = 1 ]; then
  echo "== broker restart while ingesting (stops and starts the local broker)"
  TRUYVET_IT_KAFKA_RESTART=1 go test -race -count=1 -timeout 10m -run '^TestDistributedBrokerRestart$' ./cli/
fi
echo "== fuzz (${FUZZTIME:-10s} each)"
./scripts/fuzz.sh "${FUZZTIME:-10s}"
echo "== all tests passed"
