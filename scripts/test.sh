#!/usr/bin/env bash
# The project's test command (README, .ci/run): the static checks of
# scripts/lint.sh (gofmt, vet, go mod tidy, golangci-lint; any finding fails),
# every test with the race detector, then a short run of every fuzzer.
set -euo pipefail
cd "$(dirname "$0")/.."
# phase prints a phase's header with the seconds since the start.
phase() { echo "== $* (at ${SECONDS} s)"; }
./scripts/lint.sh
phase "services: deploy/local/up.sh"
# Integration tests talk to real services; the test command starts them
# itself (installing them on first use). Under CI a failure here is fatal;
# elsewhere the integration tests skip and say which variable they need.
if [ -z "${TRUYVET_IT_KAFKA_BROKERS:-}" ] || [ -z "${TRUYVET_IT_CLICKHOUSE_ADDR:-}" ] || [ -z "${TRUYVET_IT_POSTGRES_URL:-}" ]; then
  if out=$(deploy/local/up.sh); then
    brokers=$(printf '%s\n' "$out" | sed -n 's/^TRUYVET_KAFKA_BROKERS=//p')
    chaddr=$(printf '%s\n' "$out" | sed -n 's/^TRUYVET_CLICKHOUSE_ADDR=//p')
    pgurl=$(printf '%s\n' "$out" | sed -n 's/^TRUYVET_POSTGRES_URL=//p')
    export TRUYVET_IT_KAFKA_BROKERS="$brokers" TRUYVET_IT_CLICKHOUSE_ADDR="$chaddr" TRUYVET_IT_POSTGRES_URL="$pgurl"
    local_services=1
    if [ "${CI:-}" = true ]; then trap 'deploy/local/down.sh >/dev/null 2>&1 || true' EXIT; fi
  elif [ "${CI:-}" = true ]; then
    echo "deploy/local/up.sh failed; CI needs the real services"; exit 1
  else
    echo "deploy/local/up.sh failed; integration tests will skip"
  fi
fi
phase "cluster: deploy/local/cluster-up.sh (2 shards x 2 replicas of ClickHouse, ZooKeeper)"
# The store's tests on a ClickHouse cluster. It installs Debian's zookeeper
# on first use; under CI a failure here is fatal, elsewhere those tests skip.
if [ -z "${TRUYVET_IT_CLICKHOUSE_CLUSTER_ADDR:-}" ]; then
  if out=$(deploy/local/cluster-up.sh); then
    TRUYVET_IT_CLICKHOUSE_CLUSTER_ADDR=$(printf '%s\n' "$out" | sed -n 's/^TRUYVET_CLICKHOUSE_CLUSTER_ADDR=//p')
    TRUYVET_IT_CLICKHOUSE_CLUSTER=$(printf '%s\n' "$out" | sed -n 's/^TRUYVET_CLICKHOUSE_CLUSTER=//p')
    export TRUYVET_IT_CLICKHOUSE_CLUSTER_ADDR TRUYVET_IT_CLICKHOUSE_CLUSTER
    local_cluster=1
    if [ "${CI:-}" = true ]; then
      if [ "${local_services:-}" = 1 ]; then
        trap 'deploy/local/down.sh >/dev/null 2>&1 || true; deploy/local/cluster-down.sh >/dev/null 2>&1 || true' EXIT
      else
        trap 'deploy/local/cluster-down.sh >/dev/null 2>&1 || true' EXIT
      fi
    fi
  elif [ "${CI:-}" = true ]; then
    echo "deploy/local/cluster-up.sh failed; CI needs the ClickHouse cluster"; exit 1
  else
    echo "deploy/local/cluster-up.sh failed; the cluster tests will skip"
  fi
fi
echo "TRUYVET_IT_CLICKHOUSE_CLUSTER_ADDR=${TRUYVET_IT_CLICKHOUSE_CLUSTER_ADDR:-}"
echo "TRUYVET_IT_KAFKA_BROKERS=${TRUYVET_IT_KAFKA_BROKERS:-}"
echo "TRUYVET_IT_CLICKHOUSE_ADDR=${TRUYVET_IT_CLICKHOUSE_ADDR:-}"
echo "TRUYVET_IT_POSTGRES_URL=${TRUYVET_IT_POSTGRES_URL:-}"
phase "browser: Debian's chromium for the web UI's tests (query/api/ui)"
# The page's tests drive a real headless Chromium; without one they fail
# under CI=true and skip elsewhere.
if ! command -v chromium >/dev/null 2>&1 && [ -z "${TRUYVET_CHROMIUM:-}" ]; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1 || echo "apt-get install chromium failed"
  else
    echo "chromium not installed (apt-get install chromium); the browser tests will skip"
  fi
fi
phase "tools: zbarimg (the poster tests read their QR codes back with it)"
if ! command -v zbarimg >/dev/null; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q zbar-tools >&2 ||
    { $sudo apt-get update -q >&2 && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q zbar-tools >&2; } ||
    { [ "${CI:-}" != true ] || { echo "zbar-tools could not be installed; CI needs zbarimg"; exit 1; }; }
fi
phase "go test -race"
go test -race -count=1 -timeout 20m ./...
# The fault phases. The store's conformance suite with shard 1's first
# replica of the cluster stopped (about 3 min, race detector or not: the
# servers set the pace) runs beside the outages of the single-server Kafka and
# ClickHouse, which it does not use; the cli's kill -9 topology with shard 2's
# replica stopped (under a minute) uses Kafka too, so it comes after them.
# Tests that stop servers of one cluster must not overlap
# (chtest.StopReplica makes them take turns): each expects only its own
# server down.
store_faults=""
if [ "${local_cluster:-}" = 1 ]; then
  phase "cluster faults: the store's suite with a replica of the local ClickHouse cluster stopped (in the background)"
  store_faults=$(mktemp)
  (TRUYVET_IT_CLUSTER_FAULTS=1 go test -race -count=1 -timeout 10m -run 'ReplicaDown' ./store/chstore/ > "$store_faults" 2>&1; echo "rc=$?" >> "$store_faults") &
  store_faults_pid=$!
fi
if [ "${local_services:-}" = 1 ]; then
  phase "outages: the local broker and ClickHouse are stopped and started under load"
  TRUYVET_IT_OUTAGES=1 go test -race -count=1 -timeout 10m -run '^TestOutage' ./cli/
fi
if [ -n "$store_faults" ]; then
  wait "$store_faults_pid" || true
  phase "cluster faults: the store's suite (its output)"
  cat "$store_faults"
  if ! tail -n 1 "$store_faults" | grep -qx 'rc=0'; then rm -f "$store_faults"; exit 1; fi
  rm -f "$store_faults"
  phase "cluster faults: the kill -9 topology with a replica stopped"
  TRUYVET_IT_CLUSTER_FAULTS=1 go test -race -count=1 -timeout 10m -run 'ReplicaDown' ./cli/
fi
./scripts/check-deploy.sh  # manifests, dashboards and alert rules (deploy/)
phase "fuzz (${FUZZTIME:-6s} each)"
./scripts/fuzz.sh "${FUZZTIME:-6s}"
phase "all tests passed"
