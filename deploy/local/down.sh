#!/usr/bin/env bash
# Stops what deploy/local/up.sh started. --purge also deletes their data (the
# downloaded jars stay cached).
set -euo pipefail
state=${TRUYVET_LOCAL_DIR:-$HOME/.cache/truyvet/local}
purge=false
for a in "$@"; do
  case $a in
    --purge) purge=true ;;
    *) echo "usage: down.sh [--purge]" >&2; exit 2 ;;
  esac
done

stop() { # name pidfile
  local name=$1 pid=$2
  if [ -f "$pid" ] && kill -0 "$(cat "$pid")" 2>/dev/null; then
    local p
    p=$(cat "$pid")
    echo "down.sh: stopping $name (pid $p)" >&2
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$p" 2>/dev/null; then
      echo "down.sh: $name did not stop in 30s; killing it" >&2
      kill -KILL "$p" 2>/dev/null || true
    fi
  fi
  rm -f "$pid"
}

stop kafka "$state/kafka/kafka.pid"
if $purge; then
  rm -rf "$state/kafka/data" "$state/kafka/server.log"* "$state/kafka/stdout.log"
  echo "down.sh: purged $state/kafka/data" >&2
fi
