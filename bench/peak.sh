#!/usr/bin/env bash
# The national peak through the distributed path: one `truyvet ingest`, the
# local Kafka broker, two `truyvet process` replicas writing ClickHouse, and
# `truyvet bench replay` posting a synthetic city as fast as it goes (or at
# --rate). Reports sustained events/s, freshness and lag (bench/README.md).
#
#   eval "$(deploy/local/up.sh)"
#   bench/peak.sh [--tier S] [--clients 12] [--rate 0] [--out truyvet-peak] [--cluster] [--direct] [--profile]
#                 [--batch-records N] [--kafka-compression C] [--kafka-linger D] [--token-cache D] [--keep]
#
# --batch-records is the processors' (flush a batch at N records),
# --kafka-compression and --kafka-linger ingest's (or the load tester's,
# with --direct), --token-cache ingest's. Every other flag goes to
# `bench replay`. With --cluster the processors write the local 2x2 cluster
# (deploy/local/cluster-up.sh).
# With --direct the load tester produces straight to the record topics (no
# HTTP ingest): the processors' own ceiling. With --profile the ingest server
# and the first processor serve Go's profiles (ports 18190, 18191) and a
# 20 s CPU profile of each, taken 5 s into the replay, lands in the out dir.
# Ports 18181-18184; topics, consumer group, database and schema are fresh
# per run and deleted after it (--keep: kept).
set -euo pipefail
cd "$(dirname "$0")/.."

: "${TRUYVET_KAFKA_BROKERS:?run eval \"\$(deploy/local/up.sh)\" first}"
: "${TRUYVET_CLICKHOUSE_ADDR:?run eval \"\$(deploy/local/up.sh)\" first}"
: "${TRUYVET_POSTGRES_URL:?run eval \"\$(deploy/local/up.sh)\" first}"

tier=S clients=12 out=truyvet-peak cluster= direct= profile= keep=
procargs=() ingestargs=() ingestonly=()
args=()
while (($#)); do
  case $1 in
    --tier) tier=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --cluster) cluster=1; shift ;;
    --direct) direct=1; shift ;;
    --profile) profile=1; shift ;;
    --keep) keep=1; shift ;;
    --batch-records | --flush-interval) procargs+=("$1" "$2"); shift 2 ;;
    --kafka-compression | --kafka-linger) ingestargs+=("$1" "$2"); shift 2 ;;
    --token-cache) ingestonly+=("$1" "$2"); shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done

run=peak$(date +%s)
work=$(mktemp -d)
bin=$work/truyvet
go build -o "$bin" .
pids=()
go build -o "$work/cleanup" ./bench/cleanup
chaddr=$TRUYVET_CLICKHOUSE_ADDR
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # The run's topics, database and schema go with it (--keep keeps them):
  # merges of a past run's parts would take the next run's CPU.
  if [[ -z $keep ]]; then
    "$work/cleanup" --kafka-brokers "$TRUYVET_KAFKA_BROKERS" --topic-prefix "${run}_" \
      --clickhouse-addr "$chaddr" --clickhouse-database "$run" \
      --postgres-url "$TRUYVET_POSTGRES_URL" --postgres-schema "$run" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

ch=(--clickhouse-addr "$TRUYVET_CLICKHOUSE_ADDR" --clickhouse-database "$run")
if [[ -n $cluster ]]; then
  : "${TRUYVET_CLICKHOUSE_CLUSTER_ADDR:?run eval \"\$(deploy/local/cluster-up.sh)\" first}"
  chaddr=$TRUYVET_CLICKHOUSE_CLUSTER_ADDR
  ch=(--clickhouse-addr "$TRUYVET_CLICKHOUSE_CLUSTER_ADDR" --clickhouse-cluster "${TRUYVET_CLICKHOUSE_CLUSTER:-truyvet_2x2}" --clickhouse-database "$run")
fi
pg=(--postgres-url "$TRUYVET_POSTGRES_URL" --postgres-schema "$run" --admin-token-file "$work/admin.token" --log-level warn)
kafka=(--kafka-brokers "$TRUYVET_KAFKA_BROKERS" --kafka-topic-prefix "${run}_" --kafka-partitions 8)

dbg=()
[[ -n $profile ]] && dbg=(--debug-listen 127.0.0.1:18190)
"$bin" ingest --listen 127.0.0.1:18181 "${dbg[@]}" "${pg[@]}" "${kafka[@]}" "${ingestargs[@]}" "${ingestonly[@]}" "${ch[@]}" --rate-limit-ingest 0 >"$work/ingest.log" 2>&1 &
pids+=($!)
for i in 1 2; do
  dbg=()
  [[ -n $profile && $i == 1 ]] && dbg=(--debug-listen 127.0.0.1:18191)
  "$bin" process --listen 127.0.0.1:1818$((i + 1)) "${dbg[@]}" "${pg[@]}" "${kafka[@]}" "${ch[@]}" --kafka-group "${run}_g" "${procargs[@]}" >"$work/process$i.log" 2>&1 &
  pids+=($!)
done
"$bin" query --listen 127.0.0.1:18184 "${pg[@]}" "${ch[@]}" >"$work/query.log" 2>&1 &
pids+=($!)
for port in 18181 18182 18183 18184; do
  for _ in $(seq 120); do
    curl -fs "127.0.0.1:$port/readyz" >/dev/null && break
    sleep 0.5
  done
  curl -fs "127.0.0.1:$port/readyz" >/dev/null || { echo "peak.sh: 127.0.0.1:$port not ready" >&2; for f in "$work"/*.log; do echo "== $f" >&2; tail -n 20 "$f" >&2; done; exit 1; }
done
token=$("$bin" accounts create --postgres-url "$TRUYVET_POSTGRES_URL" --postgres-schema "$run" \
  --name peak --roles app,epidemiologist,admin --provinces '*' | sed -n 's/.*"token": *"\([^"]*\)".*/\1/p')
[[ -n $token ]] || { echo "peak.sh: no token" >&2; exit 1; }

# CPU seconds of each process over the replay: what each stage costs per
# event, the input of a sizing (bench/README.md). The broker and ClickHouse
# are found by their command lines; a missing one is left out.
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
declare -A who=([ingest]=${pids[0]} [process1]=${pids[1]} [process2]=${pids[2]})
broker=$(pgrep -f 'kafka\.Kafka' | head -1 || true)
chserver=$(pgrep -f "clickhouse-server.*${TRUYVET_LOCAL_DIR:-$HOME/.cache/truyvet/local}/clickhouse/" | head -1 || true)
[[ -n $broker ]] && who[kafka]=$broker
[[ -n $chserver && -z $cluster ]] && who[clickhouse]=$chserver
declare -A before
for k in "${!who[@]}"; do before[$k]=$(cpu "${who[$k]}"); done
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; } # user nice system irq softirq
busy0=$(busy)

if [[ -n $direct ]]; then
  args+=(--kafka-brokers "$TRUYVET_KAFKA_BROKERS" --kafka-topic-prefix "${run}_" "${ingestargs[@]}")
  unset 'who[ingest]'
fi
if [[ -n $profile ]]; then
  mkdir -p "$out"
  for p in ingest:18190 process1:18191; do
    (sleep 5; curl -fs "127.0.0.1:${p#*:}/debug/pprof/profile?seconds=20" >"$out/${p%%:*}.cpu.pprof") &
  done
fi
TRUYVET_TOKEN=$token "$bin" bench replay --url http://127.0.0.1:18181 \
  --status-url http://127.0.0.1:18182,http://127.0.0.1:18183 --venues-url "" \
  --tier "$tier" --clients "$clients" --out "$out" "${args[@]}"
events=$(sed -n 's/.*"name": "records accepted", *"value": \([0-9]*\).*/\1/p' "$out/report.json" | head -1)
[[ -n $events ]] || events=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(int(next(f["value"] for f in r["figures"] if f["name"]=="records accepted")))' "$out/report.json")
echo "CPU over the replay (${events} events):"
for k in $(printf '%s\n' "${!who[@]}" | sort); do
  after=$(cpu "${who[$k]}")
  awk -v k="$k" -v b="${before[$k]}" -v a="$after" -v t="$ticks" -v n="$events" \
    'BEGIN { s = (a - b) / t; printf "  %-10s %7.1f CPU-s  %6.2f us/event\n", k, s, (n > 0 ? s / n * 1e6 : 0) }'
done | tee "$out/cpu.txt"
awk -v b="$busy0" -v a="$(busy)" -v t="$ticks" -v n="$events" \
  'BEGIN { s = (a - b) / t; printf "  %-10s %7.1f CPU-s  %6.2f us/event (every process, the load generator included)\n", "machine", s, (n > 0 ? s / n * 1e6 : 0) }' | tee -a "$out/cpu.txt"
# Where a batch's time went: the processors' flushes (build, write, dead
# letters) and ClickHouse inserts by table, means over the run.
echo "processor time a batch (mean over both replicas):" | tee -a "$out/cpu.txt"
for port in 18182 18183; do curl -fs "127.0.0.1:$port/metrics" || true; done | awk '
  /^truyvet_processor_(flush|commit)_duration_seconds_(sum|count)/ ||
  /^truyvet_store_clickhouse_insert_duration_seconds_(sum|count)/ {
    split($1, a, "{"); name = a[1]; label = ""
    if (match($1, /table="[^"]*"/)) label = substr($1, RSTART + 7, RLENGTH - 8)
    stem = name; sub(/_(sum|count)$/, "", stem)
    key = stem (label == "" ? "" : " " label)
    if (name ~ /_sum$/) sum[key] += $2; else cnt[key] += $2
  }
  END {
    for (k in cnt) if (cnt[k] > 0) {
      n = k; sub(/^truyvet_(processor|store_clickhouse)_/, "", n); sub(/_duration_seconds/, "", n)
      printf "  %-18s %6d x %7.1f ms\n", n, cnt[k], sum[k] / cnt[k] * 1000
    }
  }' | sort | tee -a "$out/cpu.txt"
for i in 1 2; do
  grep -E 'level=(ERROR|WARN)' "$work/process$i.log" | tail -5 || true
done
