#!/usr/bin/env bash
# Starts a local ClickHouse cluster on loopback, installing what it needs on
# first use (no Docker): 2 shards x 2 replicas of Debian's clickhouse-server
# (four server processes, each with its own directory and ports) and one
# standalone ZooKeeper, from Debian's zookeeper package, which holds the
# replication log and the queue of ON CLUSTER statements.
#
#   deploy/local/cluster-up.sh [zookeeper] [s1r1] [s1r2] [s2r1] [s2r2]   # default: all
#
# Prints NAME=value lines on stdout (progress goes to stderr):
#   TRUYVET_ZOOKEEPER_ADDR=127.0.0.1:22181
#   TRUYVET_CLICKHOUSE_CLUSTER=truyvet_2x2
#   TRUYVET_CLICKHOUSE_CLUSTER_ADDR=127.0.0.1:29000,127.0.0.1:29001,127.0.0.1:29002,127.0.0.1:29003
# Idempotent: a server already running is left as it is, so after
# `cluster-down.sh s1r2` (one replica stopped) this starts only that one.
# deploy/local/cluster-down.sh stops them. Settings: TRUYVET_LOCAL_DIR (state
# under $TRUYVET_LOCAL_DIR/cluster; default ~/.cache/truyvet/local),
# TRUYVET_CLUSTER_ZOOKEEPER_PORT (22181), TRUYVET_CLUSTER_BASE_PORT (29000:
# native 29000-29003, interserver 29009-29012), TRUYVET_CLUSTER_HTTP_BASE_PORT
# (28123: HTTP 28123-28126), TRUYVET_CLICKHOUSE_CLUSTER (truyvet_2x2),
# TRUYVET_START_TIMEOUT (seconds a starting server may take while it lives, 900),
# TRUYVET_CLICKHOUSE_COMPRESSION (lz4, or zstd: clickhouse-compression.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/cluster-env.sh"
. "$here/clickhouse-compression.sh"

log() { echo "cluster-up.sh: $*" >&2; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

apt_install() { # package
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  log "installing $1 from Debian (once)"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$1" >&2 ||
    { $sudo apt-get update -q >&2 && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$1" >&2; }
}

start_zookeeper() {
  local dir=$cluster_state/zookeeper pid=$cluster_state/zookeeper/zookeeper.pid
  mkdir -p "$dir/data"
  if alive "$pid" && port_open "$zk_port"; then
    log "zookeeper already running (pid $(cat "$pid"))"
    return
  fi
  [ -f /usr/share/java/zookeeper.jar ] || apt_install zookeeper
  command -v java >/dev/null || { log "java not found: ZooKeeper needs a JRE"; return 1; }
  if port_open "$zk_port"; then
    log "port $zk_port is taken by another process; set TRUYVET_CLUSTER_ZOOKEEPER_PORT"
    return 1
  fi
  cat > "$dir/zoo.cfg" <<CFG
tickTime=2000
dataDir=$dir/data
clientPort=$zk_port
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,stat
autopurge.snapRetainCount=3
autopurge.purgeInterval=1
# A loopback cluster for development and tests: no fsync per write (a crash
# of the machine may lose ZooKeeper's last writes; production keeps it).
forceSync=no
CFG
  log "starting zookeeper on 127.0.0.1:$zk_port (log: $dir/server.log)"
  # The jar's manifest names the rest of its class path; slf4j-simple logs
  # to stderr, here the log file.
  local cp=/usr/share/java/zookeeper.jar
  [ ! -f /usr/share/java/slf4j-simple.jar ] || cp=$cp:/usr/share/java/slf4j-simple.jar
  (cd "$dir" && exec setsid nohup java -Xms64m -Xmx256m -Djava.awt.headless=true \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dzookeeper.jmx.log4j.disable=true \
    -cp "$cp" org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg" > "$dir/server.log" 2>&1 < /dev/null &
    echo $! > "$pid")
  local started=$SECONDS
  while [ $((SECONDS - started)) -lt "${TRUYVET_START_TIMEOUT:-900}" ]; do
    # "srvr" names the mode once the server serves requests (ruok answers
    # before it has loaded its data).
    if (exec 3<>"/dev/tcp/127.0.0.1/$zk_port" && printf srvr >&3 && timeout 2 cat <&3) 2>/dev/null | grep -q '^Mode: '; then
      log "zookeeper is up"
      return
    fi
    alive "$pid" || break
    sleep 0.5
  done
  log "zookeeper did not start; last lines of $dir/server.log:"
  tail -n 30 "$dir/server.log" >&2 || true
  return 1
}

# shards_xml prints the <shard> elements of the cluster's configuration.
shards_xml() {
  local s r
  for s in 1 2; do
    echo "            <shard>"
    echo "                <internal_replication>true</internal_replication>"
    for r in 1 2; do
      echo "                <replica><host>127.0.0.1</host><port>$(node_port "s${s}r${r}")</port></replica>"
    done
    echo "            </shard>"
  done
}

start_node() { # s1r1 ...
  local node=$1 dir=$cluster_state/$1 pid=$cluster_state/$1/clickhouse.pid
  local port http inter
  port=$(node_port "$node") http=$(node_http_port "$node") inter=$(node_interserver_port "$node")
  mkdir -p "$dir/data"
  if alive "$pid" && port_open "$port"; then
    log "clickhouse $node already running (pid $(cat "$pid"))"
    return
  fi
  local server
  server=$(command -v clickhouse-server || true)
  [ -n "$server" ] || [ ! -x /usr/sbin/clickhouse-server ] || server=/usr/sbin/clickhouse-server
  if [ -z "$server" ]; then
    apt_install clickhouse-server
    server=/usr/sbin/clickhouse-server
  fi
  local shards compression
  shards=$(shards_xml)
  compression=$(compression_xml)
  awk -v shards="$shards" '{ if ($0 == "@SHARDS@") print shards; else print }' "$here/clickhouse-cluster/config.xml" |
    sed -e "s|@STATE@|$dir|g" -e "s|@TCP_PORT@|$port|g" -e "s|@HTTP_PORT@|$http|g" \
      -e "s|@INTERSERVER_PORT@|$inter|g" -e "s|@USERS@|$dir/users.xml|g" -e "s|@ZK_PORT@|$zk_port|g" \
      -e "s|@CLUSTER@|$cluster|g" -e "s|@SHARD@|${node:1:1}|g" -e "s|@REPLICA@|$node|g" \
      -e "s|@COMPRESSION@|$compression|g" > "$dir/config.xml"
  cp "$here/clickhouse-cluster/users.xml" "$dir/users.xml"
  for p in "$port" "$http" "$inter"; do
    if port_open "$p"; then
      log "port $p of $node is taken by another process; set TRUYVET_CLUSTER_BASE_PORT / TRUYVET_CLUSTER_HTTP_BASE_PORT"
      return 1
    fi
  done
  log "starting clickhouse $node on 127.0.0.1:$port (logs: $dir/server.err.log)"
  rm -f "$pid"
  (cd "$dir" && exec setsid nohup "$server" --config-file="$dir/config.xml" > "$dir/stdout.log" 2>&1 < /dev/null &
    echo $! > "$pid")
}

await_node() { # s1r1 ...
  local node=$1 dir=$cluster_state/$1 pid=$cluster_state/$1/clickhouse.pid
  local port http
  port=$(node_port "$node") http=$(node_http_port "$node")
  local started=$SECONDS
  while [ $((SECONDS - started)) -lt "${TRUYVET_START_TIMEOUT:-900}" ]; do
    if port_open "$port" && port_open "$http"; then
      return
    fi
    alive "$pid" || break
    sleep 0.5
  done
  log "clickhouse $node did not start; last lines of its logs:"
  tail -n 30 "$dir/server.err.log" "$dir/stdout.log" >&2 || true
  return 1
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(zookeeper "${nodes[@]}")
for t in "${targets[@]}"; do
  case $t in
    zookeeper | s1r1 | s1r2 | s2r1 | s2r2) ;;
    *) log "unknown server $t (known: zookeeper ${nodes[*]})"; exit 2 ;;
  esac
done
for t in "${targets[@]}"; do [ "$t" != zookeeper ] || start_zookeeper; done
started=()
for t in "${targets[@]}"; do
  if [ "$t" != zookeeper ]; then start_node "$t"; started+=("$t"); fi
done
for t in "${started[@]}"; do await_node "$t"; done
[ ${#started[@]} -eq 0 ] || log "clickhouse cluster $cluster is up"
echo "TRUYVET_ZOOKEEPER_ADDR=127.0.0.1:$zk_port"
echo "TRUYVET_CLICKHOUSE_CLUSTER=$cluster"
echo "TRUYVET_CLICKHOUSE_CLUSTER_ADDR=$(cluster_addrs)"
