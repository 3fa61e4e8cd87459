#!/usr/bin/env bash
# Starts truyvet's local services on loopback, installing them on first use
# (no Docker): an Apache Kafka broker in KRaft mode, from Maven Central jars,
# a ClickHouse server, from Debian's clickhouse-server package, and a
# PostgreSQL server (Debian's postgresql-15), which the peer benchmarks use.
#
#   deploy/local/up.sh [kafka] [clickhouse] [postgres]     # default: every service
#   deploy/local/up.sh --cluster   # a ClickHouse cluster (2 shards x 2 replicas, ZooKeeper): cluster-up.sh
#
# Prints one NAME=value line per service on stdout (progress goes to stderr):
#   TRUYVET_KAFKA_BROKERS=127.0.0.1:19092
#   TRUYVET_CLICKHOUSE_ADDR=127.0.0.1:19000
#   TRUYVET_POSTGRES_URL=postgres://truyvet@127.0.0.1:15432/truyvet?sslmode=disable
# Idempotent: a service already running is left as it is. deploy/local/down.sh
# stops them. Settings: TRUYVET_LOCAL_DIR (state and caches, default
# ~/.cache/truyvet/local), TRUYVET_KAFKA_PORT (19092),
# TRUYVET_KAFKA_CONTROLLER_PORT (19093), TRUYVET_CLICKHOUSE_PORT (19000, native
# protocol), TRUYVET_CLICKHOUSE_HTTP_PORT (18123), TRUYVET_POSTGRES_PORT (15432),
# TRUYVET_START_TIMEOUT (seconds a starting server may take while it lives,
# 900: a broker that was killed recovers every partition's log first),
# TRUYVET_CLICKHOUSE_COMPRESSION (lz4, or zstd: clickhouse-compression.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/clickhouse-compression.sh"
state=${TRUYVET_LOCAL_DIR:-$HOME/.cache/truyvet/local}
kafka_port=${TRUYVET_KAFKA_PORT:-19092}
controller_port=${TRUYVET_KAFKA_CONTROLLER_PORT:-19093}
ch_port=${TRUYVET_CLICKHOUSE_PORT:-19000}
ch_http_port=${TRUYVET_CLICKHOUSE_HTTP_PORT:-18123}
pg_port=${TRUYVET_POSTGRES_PORT:-15432}
start_timeout=${TRUYVET_START_TIMEOUT:-900}

log() { echo "up.sh: $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_kafka() {
  local dir=$state/kafka libs=$state/kafka/libs data=$state/kafka/data pid=$state/kafka/kafka.pid
  mkdir -p "$dir" "$data"
  if alive "$pid" && port_open "$kafka_port"; then
    log "kafka already running (pid $(cat "$pid"))"
    echo "TRUYVET_KAFKA_BROKERS=127.0.0.1:$kafka_port"
    return
  fi
  if [ ! -f "$libs/.complete" ] || ! cmp -s "$here/kafka/pom.xml" "$libs/.pom"; then
    command -v mvn >/dev/null || { log "mvn not found: Maven fetches Kafka from Maven Central"; return 1; }
    command -v java >/dev/null || { log "java not found: Kafka needs a JRE (17)"; return 1; }
    log "fetching Kafka jars from Maven Central into $libs (once)"
    rm -rf "$libs"
    mvn -q -B -f "$here/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$libs" -DincludeScope=runtime >&2
    cp "$here/kafka/pom.xml" "$libs/.pom"
    touch "$libs/.complete"
  fi
  cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$kafka_port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$kafka_port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data
num.partitions=4
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
log.retention.hours=24
log.segment.bytes=134217728
PROPS
  local cp="$libs/*"
  if [ ! -f "$data/meta.properties" ]; then
    local id
    id=$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
    log "formatting KRaft storage (cluster $id)"
    java -cp "$cp" -Dlog4j.configuration="file:$here/kafka/log4j.properties" -Dkafka.logs.dir="$dir" \
      kafka.tools.StorageTool format -t "$id" -c "$dir/server.properties" >&2
  fi
  if port_open "$kafka_port"; then
    log "port $kafka_port is taken by another process; set TRUYVET_KAFKA_PORT"
    return 1
  fi
  log "starting kafka on 127.0.0.1:$kafka_port (logs: $dir/server.log)"
  : > "$dir/server.log"
  setsid nohup java -Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$here/kafka/log4j.properties" -Dkafka.logs.dir="$dir" \
    -cp "$cp" kafka.Kafka "$dir/server.properties" > "$dir/stdout.log" 2>&1 < /dev/null &
  echo $! > "$pid"
  local started=$SECONDS next=$((SECONDS + 30))
  while [ $((SECONDS - started)) -lt "$start_timeout" ]; do
    if grep -q "Kafka Server started" "$dir/server.log" 2>/dev/null && port_open "$kafka_port"; then
      log "kafka is up after $((SECONDS - started)) s"
      echo "TRUYVET_KAFKA_BROKERS=127.0.0.1:$kafka_port"
      return
    fi
    if ! alive "$pid"; then break; fi
    if [ "$SECONDS" -ge "$next" ]; then
      log "kafka still starting after $((SECONDS - started)) s ($(grep -c 'Log loaded for partition' "$dir/server.log" 2>/dev/null || true) partitions loaded)"
      next=$((SECONDS + 30))
    fi
    sleep 0.5
  done
  log "kafka did not start within ${start_timeout} s or exited; last lines of $dir/server.log and stdout.log:"
  tail -n 30 "$dir/server.log" "$dir/stdout.log" >&2 || true
  return 1
}

start_clickhouse() {
  local dir=$state/clickhouse pid=$state/clickhouse/clickhouse.pid
  mkdir -p "$dir/data"
  if alive "$pid" && port_open "$ch_port"; then
    log "clickhouse already running (pid $(cat "$pid"))"
    echo "TRUYVET_CLICKHOUSE_ADDR=127.0.0.1:$ch_port"
    return
  fi
  local server
  server=$(command -v clickhouse-server || true)
  [ -n "$server" ] || [ ! -x /usr/sbin/clickhouse-server ] || server=/usr/sbin/clickhouse-server
  if [ -z "$server" ]; then
    log "installing clickhouse-server from Debian (once)"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo -n"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q clickhouse-server >&2 ||
      { $sudo apt-get update -q >&2 && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q clickhouse-server >&2; }
    server=/usr/sbin/clickhouse-server
  fi
  local compression
  compression=$(compression_xml)
  sed -e "s|@STATE@|$dir|g" -e "s|@TCP_PORT@|$ch_port|g" -e "s|@HTTP_PORT@|$ch_http_port|g" \
    -e "s|@COMPRESSION@|$compression|g" "$here/clickhouse/config.xml" > "$dir/config.xml"
  cp "$here/clickhouse/users.xml" "$dir/users.xml"
  if port_open "$ch_port"; then
    log "port $ch_port is taken by another process; set TRUYVET_CLICKHOUSE_PORT"
    return 1
  fi
  log "starting clickhouse on 127.0.0.1:$ch_port (logs: $dir/server.err.log)"
  rm -f "$pid"
  (cd "$dir" && exec setsid nohup "$server" --config-file="$dir/config.xml" > "$dir/stdout.log" 2>&1 < /dev/null &)
  local started=$SECONDS next=$((SECONDS + 30))
  while [ $((SECONDS - started)) -lt "$start_timeout" ]; do
    if port_open "$ch_port" && port_open "$ch_http_port"; then
      pgrep -f -- "--config-file=$dir/config.xml" | head -n 1 > "$pid"
      log "clickhouse is up after $((SECONDS - started)) s"
      echo "TRUYVET_CLICKHOUSE_ADDR=127.0.0.1:$ch_port"
      return
    fi
    # The server loads every table's parts before it listens; give up early
    # only once it has exited.
    if [ $((SECONDS - started)) -ge 10 ] && ! pgrep -f -- "--config-file=$dir/config.xml" > /dev/null; then break; fi
    if [ "$SECONDS" -ge "$next" ]; then
      log "clickhouse still starting after $((SECONDS - started)) s"
      next=$((SECONDS + 30))
    fi
    sleep 0.5
  done
  log "clickhouse did not start within ${start_timeout} s or exited; last lines of its logs:"
  tail -n 30 "$dir/server.err.log" "$dir/stdout.log" >&2 || true
  return 1
}

# pg_dir is where the cluster lives. As root the server runs as the postgres
# user, which cannot reach a home directory: it lives under /var/tmp then.
pg_dir() {
  if [ "$(id -u)" = 0 ]; then echo "${TRUYVET_POSTGRES_DIR:-/var/tmp/truyvet/postgres}"; else echo "$state/postgres"; fi
}

start_postgres() {
  local dir
  dir=$(pg_dir)
  local url="postgres://truyvet@127.0.0.1:$pg_port/truyvet?sslmode=disable"
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    log "installing postgresql from Debian (once)"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo -n"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 ||
      { $sudo apt-get update -q >&2 && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2; }
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  # The server refuses to run as root: run it as the postgres user then.
  local as=()
  if [ "$(id -u)" = 0 ]; then as=(runuser -u postgres --); fi
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chmod 755 "$(dirname "$dir")"; chown postgres "$dir"; fi
  if port_open "$pg_port"; then
    log "postgres already running"
    echo "TRUYVET_POSTGRES_URL=$url"
    return
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    log "initialising a PostgreSQL cluster in $dir/data"
    "${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >&2
  fi
  log "starting postgres on 127.0.0.1:$pg_port (log: $dir/server.log)"
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $dir -c shared_buffers=512MB -c work_mem=64MB -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >&2
  "${as[@]}" "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'truyvet'" | grep -q 1 ||
    "${as[@]}" "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -qc "CREATE ROLE truyvet LOGIN SUPERUSER" >&2
  "${as[@]}" "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'truyvet'" | grep -q 1 ||
    "${as[@]}" "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -qc "CREATE DATABASE truyvet OWNER truyvet" >&2
  echo "TRUYVET_POSTGRES_URL=$url"
}

services=("$@")
[ ${#services[@]} -gt 0 ] || services=(kafka clickhouse postgres)
for s in "${services[@]}"; do
  case $s in
    kafka) start_kafka ;;
    clickhouse) start_clickhouse ;;
    postgres) start_postgres ;;
    cluster | --cluster) "$here/cluster-up.sh" ;; # the ClickHouse cluster (cluster-up.sh)
    *) log "unknown service $s (known: kafka, clickhouse, postgres, --cluster)"; exit 2 ;;
  esac
done
