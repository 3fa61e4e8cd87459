#!/usr/bin/env bash
# Stops what deploy/local/cluster-up.sh started: every server, or those named
# (e.g. `cluster-down.sh s1r2` stops one replica of shard 1, for tests that
# need a replica down). --kill sends SIGKILL at once, as a crash would;
# --purge also deletes their data. Honours the same TRUYVET_LOCAL_DIR and
# port settings as cluster-up.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/cluster-env.sh"
purge=false
kill=false
targets=()
for a in "$@"; do
  case $a in
    --purge) purge=true ;;
    --kill) kill=true ;;
    zookeeper | s1r1 | s1r2 | s2r1 | s2r2) targets+=("$a") ;;
    *) echo "usage: cluster-down.sh [zookeeper] [s1r1] [s1r2] [s2r1] [s2r2] [--purge] [--kill]" >&2; exit 2 ;;
  esac
done
# ClickHouse first: servers stopping with ZooKeeper gone wait for it.
[ ${#targets[@]} -gt 0 ] || targets=("${nodes[@]}" zookeeper)

stop() { # name pidfile
  local name=$1 pid=$2
  if [ -f "$pid" ] && kill -0 "$(cat "$pid")" 2>/dev/null; then
    local p
    p=$(cat "$pid")
    if $kill; then
      echo "cluster-down.sh: killing $name (pid $p) with SIGKILL" >&2
      kill -KILL "$p" 2>/dev/null || true
    else
      echo "cluster-down.sh: stopping $name (pid $p)" >&2
      kill -TERM "$p" 2>/dev/null || true
    fi
    for _ in $(seq 1 60); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$p" 2>/dev/null; then
      echo "cluster-down.sh: $name did not stop in 30s; killing it" >&2
      kill -KILL "$p" 2>/dev/null || true
      for _ in $(seq 1 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
  rm -f "$pid"
}

for t in "${targets[@]}"; do
  case $t in
    zookeeper) stop zookeeper "$cluster_state/zookeeper/zookeeper.pid" ;;
    *) stop "clickhouse $t" "$cluster_state/$t/clickhouse.pid" ;;
  esac
  if $purge; then
    rm -rf "${cluster_state:?}/$t/data" "$cluster_state/$t/"*.log*
    echo "cluster-down.sh: purged $cluster_state/$t/data" >&2
  fi
done
